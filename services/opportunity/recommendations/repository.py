"""SQL of solution recommendation: the outcome roll-up and its reads."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

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
    ind, band = industry or "", size_band or ""
    similar = sa.and_(so.c.industry == ind, so.c.size_band == band) if industry else sa.false()
    same_industry = so.c.industry == ind if industry else sa.false()
    stmt = (
        sa.select(
            so.c.solution_id,
            sa.func.coalesce(sa.func.sum(so.c.wins).filter(similar), 0).label("wins_similar"),
            sa.func.coalesce(sa.func.sum(so.c.losses).filter(similar), 0).label("losses_similar"),
            sa.func.coalesce(sa.func.sum(so.c.wins).filter(same_industry), 0).label("wins_industry"),
            sa.func.coalesce(sa.func.sum(so.c.losses).filter(same_industry), 0).label("losses_industry"),
            sa.func.sum(so.c.wins).label("wins_all"),
            sa.func.sum(so.c.losses).label("losses_all"),
            sa.func.max(so.c.month).filter(sa.and_(same_industry, so.c.wins > 0)).label("last_win_month"),
        )
        .where(so.c.month >= since, so.c.month <= until)
        .group_by(so.c.solution_id)
    )
    return list((await session.execute(stmt)).all())


async def active_solutions(session: AsyncSession) -> list[Solution]:
    return list((await session.execute(sa.select(Solution).where(Solution.active.is_(True)))).scalars())
