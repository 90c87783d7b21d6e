"""All queries of the support desk."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.resource_share.support.models import SupportPerson, SupportRequest


def _is_pool_member(principal: Principal) -> sa.ColumnElement[bool]:
    return sa.exists().where(SupportPerson.employee_id == principal.employee_id, SupportPerson.active.is_(True))


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    """Requester and the managers above them, the assignee, and pool members for the open requests of their
    organisation (to pick them up: a desk serves its own organisation)."""
    clauses = [
        visibility_clause(
            principal, owner_column=SupportRequest.requester_id, org_unit_column=SupportRequest.requester_org_unit_path
        ),
    ]
    if principal.employee_id is not None:
        clauses.append(SupportRequest.assignee_id == principal.employee_id)
        clauses.append(
            sa.and_(
                SupportRequest.status == "open",
                path_within(SupportRequest.requester_org_unit_path, principal.organization_path),
                _is_pool_member(principal),
            )
        )
    return sa.or_(*clauses)


def list_statement(
    principal: Principal, *, status: str | None, opportunity_id: uuid.UUID | None, mine: bool
) -> sa.Select[Any]:
    stmt = sa.select(SupportRequest).where(visible(principal))
    if status:
        stmt = stmt.where(SupportRequest.status == status)
    if opportunity_id is not None:
        stmt = stmt.where(SupportRequest.opportunity_id == opportunity_id)
    if mine:
        # No employee id, nothing of one's own: `assignee_id == None` would be
        # `IS NULL`, every unassigned request.
        me = principal.employee_id
        made_or_assigned = sa.or_(SupportRequest.requester_id == me, SupportRequest.assignee_id == me)
        stmt = stmt.where(made_or_assigned if me is not None else sa.false())
    return stmt


async def open_window(session: AsyncSession, principal: Principal, *, limit: int) -> list[SupportRequest]:
    """The open requests the caller may see, oldest first (ageing favours them)."""
    stmt = (
        sa.select(SupportRequest)
        .where(SupportRequest.status == "open", visible(principal))
        .order_by(SupportRequest.requested_at, SupportRequest.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def get_visible(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, for_update: bool = False
) -> SupportRequest | None:
    stmt = sa.select(SupportRequest).where(SupportRequest.id == request_id, visible(principal))
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def week_start(now: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the (ISO) week `now` falls in."""
    utc = now.astimezone(dt.UTC)
    return dt.datetime.combine(utc.date() - dt.timedelta(days=utc.weekday()), dt.time(), tzinfo=dt.UTC)


def _load_this_week(now: dt.datetime) -> sa.ColumnElement[Any]:
    # Hours held by work still assigned, or taken on since Monday (ISO week, UTC) of `now`'s week.
    return sa.func.coalesce(
        sa.func.sum(SupportRequest.hours_needed).filter(
            sa.or_(SupportRequest.status == "assigned", SupportRequest.assigned_at >= week_start(now))
        ),
        0,
    )


def in_organisation(organisation: str) -> sa.ColumnElement[bool]:
    """Pool members of this organisation (`/`: the whole group)."""
    return path_within(SupportPerson.org_unit_path, organisation)


def pool_visible(principal: Principal) -> sa.ColumnElement[bool]:
    """The pool (people, units, skills, hours) is seen inside its organisation; group admins see it all."""
    if principal.has("group_admin"):
        return sa.true()
    return in_organisation(principal.organization_path)


async def candidates(
    session: AsyncSession, *, now: dt.datetime, organisation: str, employee_id: uuid.UUID | None = None
) -> list[Any]:
    """Active pool members of `organisation` with their free hours in the week
    of `now` (the business clock), in one grouped statement."""
    load = (
        sa.select(SupportRequest.assignee_id.label("employee_id"), _load_this_week(now).label("held"))
        .where(SupportRequest.assignee_id.is_not(None), SupportRequest.status.in_(("assigned", "fulfilled")))
        .group_by(SupportRequest.assignee_id)
        .subquery()
    )
    stmt = (
        sa.select(
            SupportPerson.employee_id,
            SupportPerson.skills,
            SupportPerson.industries,
            (SupportPerson.weekly_capacity_hours - sa.func.coalesce(load.c.held, 0)).label("free_hours"),
        )
        .outerjoin(load, load.c.employee_id == SupportPerson.employee_id)
        .where(SupportPerson.active.is_(True), in_organisation(organisation))
    )
    if employee_id is not None:
        stmt = stmt.where(SupportPerson.employee_id == employee_id)
    return list((await session.execute(stmt)).all())


async def upsert_member(session: AsyncSession, values: dict[str, Any]) -> SupportPerson:
    stmt = insert(SupportPerson).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SupportPerson.employee_id],
        set_={**{k: getattr(stmt.excluded, k) for k in values if k != "employee_id"}, "updated_at": sa.func.now()},
    ).returning(SupportPerson)
    return (await session.execute(stmt)).scalar_one()


def pool_statement(principal: Principal, *, skill: str | None, industry: str | None) -> sa.Select[Any]:
    stmt = sa.select(SupportPerson).where(SupportPerson.active.is_(True), pool_visible(principal))
    if skill:
        stmt = stmt.where(SupportPerson.skills.contains([skill]))
    if industry:
        stmt = stmt.where(SupportPerson.industries.contains([industry]))
    return stmt


async def fairness_by_stage(
    session: AsyncSession, principal: Principal, *, since: dt.date, until: dt.date
) -> list[Any]:
    """Per stage at request time: requests, fulfilled, median and p90 hours from request to assignment."""
    waited = sa.extract("epoch", SupportRequest.assigned_at - SupportRequest.requested_at) / 3600.0
    stmt = (
        sa.select(
            SupportRequest.requester_stage.label("stage"),
            sa.func.count().label("requests"),
            sa.func.count().filter(SupportRequest.status == "fulfilled").label("fulfilled"),
            sa.func.percentile_cont(0.5).within_group(waited).label("median"),
            sa.func.percentile_cont(0.9).within_group(waited).label("p90"),
        )
        .where(
            visibility_clause(
                principal,
                owner_column=SupportRequest.requester_id,
                org_unit_column=SupportRequest.requester_org_unit_path,
            ),
            SupportRequest.requested_at >= since,
            SupportRequest.requested_at < until + dt.timedelta(days=1),
            SupportRequest.status != "cancelled",
        )
        .group_by(SupportRequest.requester_stage)
    )
    return list((await session.execute(stmt)).all())


async def credit_win(session: AsyncSession, opportunity_id: uuid.UUID) -> None:
    await session.execute(
        sa.update(SupportRequest)
        .where(SupportRequest.opportunity_id == opportunity_id, SupportRequest.won.is_(False))
        .values(won=True, version=SupportRequest.version + 1, updated_at=sa.func.now())
    )


def within_clause(principal: Principal) -> sa.ColumnElement[bool]:
    return path_within(SupportPerson.org_unit_path, principal.org_unit_path)
