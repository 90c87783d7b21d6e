"""SQL of solution recommendation: the outcome roll-up and its reads."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.opportunity.opportunities.models import Opportunity
from services.opportunity.recommendations.models import solution_outcomes as so
from services.opportunity.solutions.models import Solution

_APPLY = sa.text("""
INSERT INTO opportunity.solution_outcomes AS t (industry, size_band, month, solution_id, wins, losses, won_amount)
SELECT coalesce(o.industry, ''), coalesce(o.size_band, ''), date_trunc('month', o.closed_on)::date, s.sid,
       :sign * count(*) FILTER (WHERE o.stage = 'won'),
       :sign * count(*) FILTER (WHERE o.stage = 'lost'),
       :sign * coalesce(sum(o.amount) FILTER (WHERE o.stage = 'won'), 0)
FROM opportunity.opportunities o CROSS JOIN LATERAL unnest(o.solution_ids) AS s(sid)
WHERE o.id = ANY(:ids) AND o.stage IN ('won', 'lost') AND o.closed_on IS NOT NULL
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
        await session.execute(_APPLY, {"ids": list(ids), "sign": sign})


async def rebuild(session: AsyncSession) -> None:
    """Recompute the whole roll-up from the history (operators, benchmarks)."""
    await session.execute(sa.delete(so))
    await session.execute(_REBUILD)


async def outcome_counts(
    session: AsyncSession, *, industry: str | None, size_band: str | None, since: dt.date, until: dt.date
) -> list[Any]:
    """Wins and losses per solution closed from `since` to `until` (both
    included): whole months from the roll-up, and `until`'s own month from the
    deals themselves, so nothing closed after `until` counts."""
    ind, band = industry or "", size_band or ""
    first = until.replace(day=1)
    sid = sa.func.unnest(Opportunity.solution_ids).table_valued("sid").render_derived()
    this_month = (
        sa.select(
            sa.func.coalesce(Opportunity.industry, "").label("industry"),
            sa.func.coalesce(Opportunity.size_band, "").label("size_band"),
            sa.literal(first).label("month"),
            sid.c.sid.label("solution_id"),
            sa.case((Opportunity.stage == "won", 1), else_=0).label("wins"),
            sa.case((Opportunity.stage == "lost", 1), else_=0).label("losses"),
        )
        .select_from(Opportunity)
        .join(sid, sa.true())
        .where(
            Opportunity.stage.in_(["won", "lost"]),
            Opportunity.closed_on >= max(first, since),
            Opportunity.closed_on <= until,
        )
    )
    rows = sa.union_all(
        sa.select(so.c.industry, so.c.size_band, so.c.month, so.c.solution_id, so.c.wins, so.c.losses).where(
            so.c.month >= since, so.c.month < first
        ),
        this_month,
    ).subquery()
    similar = sa.and_(rows.c.industry == ind, rows.c.size_band == band) if industry else sa.false()
    same_industry = rows.c.industry == ind if industry else sa.false()
    stmt = sa.select(
        rows.c.solution_id,
        sa.func.coalesce(sa.func.sum(rows.c.wins).filter(similar), 0).label("wins_similar"),
        sa.func.coalesce(sa.func.sum(rows.c.losses).filter(similar), 0).label("losses_similar"),
        sa.func.coalesce(sa.func.sum(rows.c.wins).filter(same_industry), 0).label("wins_industry"),
        sa.func.coalesce(sa.func.sum(rows.c.losses).filter(same_industry), 0).label("losses_industry"),
        sa.func.sum(rows.c.wins).label("wins_all"),
        sa.func.sum(rows.c.losses).label("losses_all"),
        sa.func.max(rows.c.month).filter(sa.and_(same_industry, rows.c.wins > 0)).label("last_win_month"),
    ).group_by(rows.c.solution_id)
    return list((await session.execute(stmt)).all())


async def active_solutions(session: AsyncSession) -> list[Solution]:
    return list((await session.execute(sa.select(Solution).where(Solution.active.is_(True)))).scalars())
