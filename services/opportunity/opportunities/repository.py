"""All queries of the opportunities area."""

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, sees_only_own, visibility_clause
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities.models import Opportunity, StageChange, TeamMember
from services.opportunity.solutions.models import Solution


def member_clause(principal: Principal) -> sa.ColumnElement[bool] | None:
    if principal.employee_id is None:
        return None
    return sa.exists().where(
        TeamMember.opportunity_id == Opportunity.id, TeamMember.employee_id == principal.employee_id
    )


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    if sees_only_own(principal):
        # The same rows as owner-or-team-member, in a form the planner sizes right.
        own = (
            sa.union(
                sa.select(Opportunity.id).where(Opportunity.owner_id == principal.employee_id),
                sa.select(TeamMember.opportunity_id).where(TeamMember.employee_id == principal.employee_id),
            )
            .subquery()
            .select()
        )
        return Opportunity.id.in_(own)
    return visibility_clause(
        principal,
        owner_column=Opportunity.owner_id,
        org_unit_column=Opportunity.org_unit_path,
        member_clause=member_clause(principal),
    )


SORTS = {
    "created_at": Opportunity.created_at,
    "updated_at": Opportunity.updated_at,
    "name": Opportunity.name,
    "expected_close_date": Opportunity.expected_close_date,
    "amount": Opportunity.amount_value,
    "assigned_at": Opportunity.assigned_at,
}
# Keyset paging cannot step over NULLs: sorting by one of these leaves out the rows without it.
NULLABLE_SORTS = ("expected_close_date", "amount", "assigned_at")


def list_statement(
    principal: Principal,
    *,
    owner_id: uuid.UUID | None = None,
    team_member_id: uuid.UUID | None = None,
    unassigned: bool | None = None,
    stages: Sequence[Stage] = (),
    account_id: uuid.UUID | None = None,
    org_unit: str | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
    closed_from: dt.date | None = None,
    closed_to: dt.date | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    solution_id: uuid.UUID | None = None,
    industry: str | None = None,
    origin_type: str | None = None,
    origin_id: str | None = None,
    assigned_since: dt.datetime | None = None,
    sort: str = "created_at",
) -> sa.Select[Any]:
    stmt = sa.select(Opportunity).where(visible(principal))
    if sort in NULLABLE_SORTS:
        stmt = stmt.where(SORTS[sort].is_not(None))
    if owner_id is not None:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    if team_member_id is not None:
        stmt = stmt.where(
            sa.exists().where(TeamMember.opportunity_id == Opportunity.id, TeamMember.employee_id == team_member_id)
        )
    if unassigned is not None:
        stmt = stmt.where(Opportunity.owner_id.is_(None) if unassigned else Opportunity.owner_id.is_not(None))
    if stages:
        stmt = stmt.where(Opportunity.stage.in_([s.value for s in stages]))
    if account_id is not None:
        stmt = stmt.where(Opportunity.account_id == account_id)
    if org_unit:
        stmt = stmt.where(path_within(Opportunity.org_unit_path, org_unit))
    if close_from is not None:
        stmt = stmt.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(Opportunity.expected_close_date <= close_to)
    if closed_from is not None:
        stmt = stmt.where(Opportunity.closed_on >= closed_from)
    if closed_to is not None:
        stmt = stmt.where(Opportunity.closed_on <= closed_to)
    if amount_min is not None:
        stmt = stmt.where(Opportunity.amount_value >= amount_min)
    if amount_max is not None:
        stmt = stmt.where(Opportunity.amount_value <= amount_max)
    if solution_id is not None:
        stmt = stmt.where(Opportunity.solution_ids.contains([solution_id]))
    if industry:
        stmt = stmt.where(Opportunity.industry == industry)
    if origin_type:
        stmt = stmt.where(Opportunity.origin_type == origin_type)
    if assigned_since is not None:
        stmt = stmt.where(Opportunity.assigned_at >= assigned_since)
    if origin_id:
        stmt = stmt.where(Opportunity.origin_id == origin_id)
    return stmt


async def get_visible(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID, *, for_update: bool = False
) -> Opportunity | None:
    stmt = sa.select(Opportunity).where(Opportunity.id == opportunity_id, visible(principal))
    if for_update:
        stmt = stmt.with_for_update(of=Opportunity)
    return (await session.execute(stmt)).scalar_one_or_none()


async def visible_by_ids(session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]) -> list[Opportunity]:
    stmt = sa.select(Opportunity).where(Opportunity.id.in_(ids), visible(principal))
    return list((await session.execute(stmt)).scalars())


async def external_id_taken(session: AsyncSession, external_id: str) -> bool:
    stmt = sa.select(sa.literal(True)).where(Opportunity.external_id == external_id)
    return (await session.execute(stmt)).first() is not None


async def by_external_ids(session: AsyncSession, external_ids: Iterable[str]) -> dict[str, Opportunity]:
    stmt = sa.select(Opportunity).where(Opportunity.external_id.in_(list(external_ids)))
    return {o.external_id: o for o in (await session.execute(stmt)).scalars() if o.external_id}


async def teams(session: AsyncSession, opportunity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TeamMember]]:
    """Team members of a page of opportunities in one query."""
    out: dict[uuid.UUID, list[TeamMember]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        stmt = (
            sa.select(TeamMember)
            .where(TeamMember.opportunity_id.in_(list(opportunity_ids)))
            .order_by(TeamMember.opportunity_id, TeamMember.employee_id)
        )
        for member in (await session.execute(stmt)).scalars():
            out[member.opportunity_id].append(member)
    return out


async def replace_team(
    session: AsyncSession, opportunity_id: uuid.UUID, members: Sequence[tuple[uuid.UUID, str]]
) -> None:
    await session.execute(sa.delete(TeamMember).where(TeamMember.opportunity_id == opportunity_id))
    if members:
        await session.execute(
            sa.insert(TeamMember),
            [{"opportunity_id": opportunity_id, "employee_id": e, "role": r} for e, r in members],
        )


async def replace_teams(session: AsyncSession, teams: dict[uuid.UUID, list[tuple[uuid.UUID, str]]]) -> None:
    """`replace_team` for a whole batch: one DELETE and one INSERT."""
    if not teams:
        return
    await session.execute(sa.delete(TeamMember).where(TeamMember.opportunity_id.in_(list(teams))))
    rows = [{"opportunity_id": o, "employee_id": e, "role": r} for o, members in teams.items() for e, r in members]
    if rows:
        await session.execute(sa.insert(TeamMember), rows)


async def unknown_solutions(session: AsyncSession, solution_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    wanted = set(solution_ids)
    if not wanted:
        return []
    found = set((await session.execute(sa.select(Solution.id).where(Solution.id.in_(wanted)))).scalars())
    return sorted(wanted - found, key=str)


async def add_stage_changes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(StageChange), list(rows))


def history_statement(opportunity_id: uuid.UUID) -> sa.Select[Any]:
    return sa.select(StageChange).where(StageChange.opportunity_id == opportunity_id)


async def participants(session: AsyncSession, *, after: uuid.UUID | None, limit: int) -> list[sa.Row[Any]]:
    """Opportunities with an account, by id after `after`: id, account, owner,
    org unit, stage, the team (ids, and members with roles) and version, in
    one query (the team aggregated in SQL)."""
    team = (
        sa.select(
            sa.func.coalesce(
                sa.func.array_agg(aggregate_order_by(TeamMember.employee_id, TeamMember.employee_id)),
                sa.cast(sa.literal("{}"), ARRAY(sa.Uuid)),
            ).label("ids"),
            sa.func.coalesce(
                sa.func.json_agg(
                    aggregate_order_by(
                        sa.func.json_build_object("employee_id", TeamMember.employee_id, "role", TeamMember.role),
                        TeamMember.employee_id,
                    )
                ),
                sa.literal_column("'[]'::json"),
            ).label("members"),
        )
        .where(TeamMember.opportunity_id == Opportunity.id)
        .lateral("team")
    )
    stmt = (
        sa.select(
            Opportunity.id,
            Opportunity.account_id,
            Opportunity.owner_id,
            Opportunity.org_unit_path,
            Opportunity.stage,
            team.c.ids.label("team_ids"),
            team.c.members.label("team"),
            Opportunity.version,
        )
        .select_from(Opportunity)
        .join(team, sa.true())
        .where(Opportunity.account_id.is_not(None))
        .order_by(Opportunity.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Opportunity.id > after)
    return list((await session.execute(stmt)).all())
