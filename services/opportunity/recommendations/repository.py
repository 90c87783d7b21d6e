"""SQL of solution recommendation: the outcome roll-up and its reads."""

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.reads import Prebuilt
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.recommendations.models import solution_outcomes as so
from services.opportunity.sales_people.models import SalesPerson
from services.opportunity.solutions.models import Solution
from services.opportunity.solutions.repository import catalogues

_APPLY = sa.text("""
INSERT INTO opportunity.solution_outcomes AS t (industry, size_band, month, solution_id, wins, losses, won_amount)
SELECT coalesce(o.industry, ''), coalesce(o.size_band, ''), date_trunc('month', o.closed_on)::date, s.sid,
       :sign * count(*) FILTER (WHERE o.stage = 'won'),
       :sign * count(*) FILTER (WHERE o.stage = 'lost'),
       :sign * coalesce(sum(o.amount) FILTER (WHERE o.stage = 'won'), 0)
FROM unnest(CAST(:ids AS uuid[])) AS i(id)
-- One primary-key probe per id, whatever the statistics say: an import fills the table faster
-- than they follow, and on those of a small table `o.id = ANY(:ids)` was a scan of every deal
-- per batch (16% of the database's time in a 100,000-deal import). OFFSET 0 keeps the planner
-- from flattening the probe into a join it could plan as a scan.
CROSS JOIN LATERAL (
    SELECT o.industry, o.size_band, o.closed_on, o.stage, o.amount, o.solution_ids
    FROM opportunity.opportunities o
    WHERE o.id = i.id AND o.stage IN ('won', 'lost') AND o.closed_on IS NOT NULL
    OFFSET 0
) o
CROSS JOIN LATERAL unnest(o.solution_ids) AS s(sid)
GROUP BY 1, 2, 3, 4
ON CONFLICT (industry, size_band, month, solution_id) DO UPDATE
SET wins = t.wins + excluded.wins, losses = t.losses + excluded.losses, won_amount = t.won_amount + excluded.won_amount
""")

_REBUILD = sa.text("""
INSERT INTO opportunity.solution_outcomes (industry, size_band, month, solution_id, wins, losses, won_amount)
SELECT coalesce(o.industry, ''), coalesce(o.size_band, ''), date_trunc('month', o.closed_on)::date, s.sid,
       count(*) FILTER (WHERE o.stage = 'won'), count(*) FILTER (WHERE o.stage = 'lost'),
       coalesce(sum(o.amount) FILTER (WHERE o.stage = 'won'), 0)
FROM opportunity.opportunities o CROSS JOIN LATERAL unnest(o.solution_ids) AS s(sid)
WHERE o.stage IN ('won', 'lost') AND o.closed_on IS NOT NULL
GROUP BY 1, 2, 3, 4
""")


async def apply_outcomes(session: AsyncSession, ids: Sequence[uuid.UUID], *, sign: int) -> None:
    """Add (sign=1) or take back (sign=-1) the closed deals `ids` as they are
    in the database now: call with -1 before changing a closed deal and with
    1 after flushing the change."""
    if ids:
        # Each deal once: the statement probes per id, so a repeated one would count twice.
        await session.execute(_APPLY, {"ids": list(dict.fromkeys(ids)), "sign": sign})


async def rebuild(session: AsyncSession) -> None:
    """Recompute the whole roll-up from the history (operators, benchmarks)."""
    await session.execute(sa.delete(so))
    await session.execute(_REBUILD)


def _outcome_counts() -> sa.Select[Any]:
    """Wins and losses per solution closed from `:since` to `:until` (both
    included), for each (industry, size band) of `:industries`/`:bands`: whole
    months from the roll-up, and `until`'s own month (from `:first`, or from
    `:since` when later) from the deals themselves, so nothing closed after
    `until` counts. A key without an industry counts only overall figures."""
    first = sa.bindparam("first", type_=sa.Date)
    sid = sa.func.unnest(Opportunity.solution_ids).table_valued("sid").render_derived()
    this_month = (
        sa.select(
            sa.func.coalesce(Opportunity.industry, "").label("industry"),
            sa.func.coalesce(Opportunity.size_band, "").label("size_band"),
            sa.cast(first, sa.Date).label("month"),
            sid.c.sid.label("solution_id"),
            sa.case((Opportunity.stage == "won", 1), else_=0).label("wins"),
            sa.case((Opportunity.stage == "lost", 1), else_=0).label("losses"),
        )
        .select_from(Opportunity)
        .join(sid, sa.true())
        .where(
            sa.or_(Opportunity.stage == "won", Opportunity.stage == "lost"),
            Opportunity.closed_on >= sa.bindparam("this_month_from", type_=sa.Date),
            Opportunity.closed_on <= sa.bindparam("until", type_=sa.Date),
        )
    )
    rows = sa.union_all(
        sa.select(so.c.industry, so.c.size_band, so.c.month, so.c.solution_id, so.c.wins, so.c.losses).where(
            so.c.month >= sa.bindparam("since", type_=sa.Date), so.c.month < first
        ),
        this_month,
    ).subquery("r")
    keys = (
        sa.func.unnest(
            sa.bindparam("industries", type_=ARRAY(sa.String)), sa.bindparam("bands", type_=ARRAY(sa.String))
        )
        .table_valued("industry", "size_band")
        .render_derived(name="k")
    )
    similar = sa.and_(rows.c.industry == keys.c.industry, rows.c.size_band == keys.c.size_band)
    same_industry = rows.c.industry == keys.c.industry
    return (
        sa.select(
            keys.c.industry.label("key_industry"),
            keys.c.size_band.label("key_size_band"),
            rows.c.solution_id,
            sa.func.coalesce(sa.func.sum(rows.c.wins).filter(similar), 0).label("wins_similar"),
            sa.func.coalesce(sa.func.sum(rows.c.losses).filter(similar), 0).label("losses_similar"),
            sa.func.coalesce(sa.func.sum(rows.c.wins).filter(same_industry), 0).label("wins_industry"),
            sa.func.coalesce(sa.func.sum(rows.c.losses).filter(same_industry), 0).label("losses_industry"),
            sa.func.sum(rows.c.wins).label("wins_all"),
            sa.func.sum(rows.c.losses).label("losses_all"),
            sa.func.max(rows.c.month).filter(sa.and_(same_industry, rows.c.wins > 0)).label("last_win_month"),
        )
        .select_from(keys.join(rows, sa.true()))
        .group_by(keys.c.industry, keys.c.size_band, rows.c.solution_id)
    )


OUTCOME_COUNTS = Prebuilt(_outcome_counts())
# The active solutions of some catalogues (`:catalogues`, organisation paths): the same
# solutions `solutions.repository.usable_by` gives the ORM (tests/services/opportunity/test_fast_reads.py).
ACTIVE_SOLUTIONS = Prebuilt(
    sa.select(Solution.id, Solution.organization_path, Solution.name, Solution.industries, Solution.size_bands).where(
        Solution.active.is_(True),
        Solution.organization_path == sa.any_(sa.bindparam("catalogues", type_=ARRAY(sa.String))),
    )
)
OWNER_STAGES = Prebuilt(
    sa.select(SalesPerson.employee_id, SalesPerson.stage).where(
        SalesPerson.employee_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Uuid)))
    )
)


async def outcome_counts(
    conn: asyncpg.Connection, keys: Sequence[tuple[str | None, str | None]], *, since: dt.date, until: dt.date
) -> dict[tuple[str | None, str | None], dict[uuid.UUID, asyncpg.Record]]:
    """`_outcome_counts` for every (industry, size band) in `keys`, in one statement."""
    out: dict[tuple[str | None, str | None], dict[uuid.UUID, asyncpg.Record]] = {key: {} for key in keys}
    if not keys:
        return out
    first = until.replace(day=1)
    # As the ranking sees them: no industry (None or "") counts only overall.
    sql_keys = list(dict.fromkeys((industry or None, band or "") for industry, band in keys))
    params = {
        "industries": [industry for industry, _ in sql_keys],
        "bands": [band for _, band in sql_keys],
        "first": first,
        "this_month_from": max(first, since),
        "since": since,
        "until": until,
    }
    found: dict[tuple[str | None, str], dict[uuid.UUID, asyncpg.Record]] = {key: {} for key in sql_keys}
    for row in await OUTCOME_COUNTS.fetch(conn, params):
        found[(row["key_industry"], row["key_size_band"])][row["solution_id"]] = row
    for industry, band in keys:
        out[(industry, band)] = found[(industry or None, band or "")]
    return out


async def active_solutions(conn: asyncpg.Connection, org_unit_paths: Iterable[str]) -> list[asyncpg.Record]:
    """The active solutions deals in these org units may use (`solutions.repository.catalogues`
    of each), in one statement; each says its catalogue (`organization_path`)."""
    wanted = sorted({c for path in org_unit_paths for c in catalogues(path)})
    return await ACTIVE_SOLUTIONS.fetch(conn, {"catalogues": wanted}) if wanted else []


async def owner_stages(conn: asyncpg.Connection, employee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    if not employee_ids:
        return {}
    return {r["employee_id"]: r["stage"] for r in await OWNER_STAGES.fetch(conn, {"ids": list(employee_ids)})}
