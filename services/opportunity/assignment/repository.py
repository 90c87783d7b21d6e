"""All queries of the assignment node."""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, visibility_clause
from services.opportunity.assignment.models import Decision
from services.opportunity.domain.scoring import History
from services.opportunity.domain.stages import OPEN_STAGES
from services.opportunity.opportunities import repository as opportunities
from services.opportunity.opportunities.models import Opportunity

OPEN = [s.value for s in OPEN_STAGES]


async def unassigned_deals(
    session: AsyncSession,
    principal: Principal,
    *,
    ids: Sequence[uuid.UUID] | None,
    org_unit: str | None,
    limit: int,
    lock: bool = False,
) -> list[Opportunity]:
    stmt = opportunities.list_statement(principal, unassigned=True, org_unit=org_unit).where(
        Opportunity.stage.in_(OPEN)
    )
    if ids is not None:
        stmt = stmt.where(Opportunity.id.in_(list(ids)))
    stmt = stmt.order_by(Opportunity.created_at, Opportunity.id).limit(limit)
    if lock:
        stmt = stmt.with_for_update(of=Opportunity, skip_locked=False)
    return list((await session.execute(stmt)).scalars())


async def open_load(session: AsyncSession, employee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    stmt = (
        sa.select(Opportunity.owner_id, sa.func.count())
        .where(Opportunity.owner_id.in_(list(employee_ids)), Opportunity.stage.in_(OPEN))
        .group_by(Opportunity.owner_id)
    )
    return dict((await session.execute(stmt)).all())


async def history(session: AsyncSession, employee_ids: Sequence[uuid.UUID]) -> History:
    """Each rep's closed deals overall and per industry, size band and solution,
    in two grouped queries."""
    o = Opportunity
    won = sa.func.count().filter(o.stage == "won")
    closed = sa.and_(o.owner_id.in_(list(employee_ids)), o.stage.in_(["won", "lost"]))
    h = History()
    grouped = (
        sa.select(
            o.owner_id,
            o.industry,
            o.size_band,
            won.label("w"),
            sa.func.count().label("n"),
            sa.func.grouping(o.industry, o.size_band).label("g"),
        )
        .where(closed)
        .group_by(
            sa.func.grouping_sets(
                sa.tuple_(o.owner_id), sa.tuple_(o.owner_id, o.industry), sa.tuple_(o.owner_id, o.size_band)
            )
        )
    )
    for r in (await session.execute(grouped)).all():
        rep = str(r.owner_id)
        if r.g == 3:
            h.overall[rep] = (r.w, r.n)
        elif r.g == 1 and r.industry is not None:
            h.industry[(rep, r.industry)] = (r.w, r.n)
        elif r.g == 2 and r.size_band is not None:
            h.size_band[(rep, r.size_band)] = (r.w, r.n)
    sid = sa.func.unnest(o.solution_ids).table_valued("sid").render_derived()
    per_solution = (
        sa.select(o.owner_id, sid.c.sid, won.label("w"), sa.func.count().label("n"))
        .select_from(o)
        .join(sid, sa.true())
        .where(closed)
        .group_by(o.owner_id, sid.c.sid)
    )
    for r in (await session.execute(per_solution)).all():
        h.solution[(str(r.owner_id), str(r.sid))] = (r.w, r.n)
    return h


async def add_decisions(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(Decision), list(rows))


def decisions_statement(
    principal: Principal,
    *,
    opportunity_id: uuid.UUID | None,
    employee_id: uuid.UUID | None,
    proposal_id: uuid.UUID | None,
) -> sa.Select[Any]:
    stmt = sa.select(Decision).where(
        visibility_clause(principal, owner_column=Decision.employee_id, org_unit_column=Decision.org_unit_path)
    )
    if opportunity_id is not None:
        stmt = stmt.where(Decision.opportunity_id == opportunity_id)
    if employee_id is not None:
        stmt = stmt.where(Decision.employee_id == employee_id)
    if proposal_id is not None:
        stmt = stmt.where(Decision.proposal_id == proposal_id)
    return stmt
