"""Support desk use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish
from sanlun.kernel.peer_stages import StageInfo, Stages
from sanlun.kernel.peer_stages import fetch as fetch_stages
from sanlun.kernel.peers import Peers
from sanlun.kernel.settings import ServiceSettings
from services.resource_share import lookups
from services.resource_share.access import within
from services.resource_share.domain import desk
from services.resource_share.domain.paths import organization_of
from services.resource_share.people import repository as people
from services.resource_share.support import repository
from services.resource_share.support.models import SupportPerson, SupportRequest
from services.resource_share.support.schemas import (
    MoneyRead,
    PoolMemberWrite,
    StageFigures,
    SupportRequestCreate,
    SupportRequestRead,
)


def priority_config(s: ServiceSettings) -> desk.PriorityConfig:
    return desk.PriorityConfig(
        stage_weights=dict(s.support_stage_weights), ageing_per_hour=s.support_ageing_per_hour, tilt=s.support_tilt
    )


async def _stages(peers: Peers, session: AsyncSession, employee_ids: Collection[uuid.UUID]) -> Stages:
    """Live from the lifecycle service (with the caller's visibility), else the
    people view kept from `employee.stage_changed`; ids the service does not
    show to the caller take the people view's stage too: the desk needs one
    for its ordering."""

    async def local(ids: list[uuid.UUID]) -> tuple[dict[uuid.UUID, StageInfo], dt.datetime | None]:
        stages, as_of = await people.stages_of(session, ids)
        return {i: StageInfo(stage) for i, stage in stages.items()}, as_of

    return await fetch_stages(peers, sorted(set(employee_ids), key=str), local=local, fill_missing=True)


def _employee(principal: Principal) -> uuid.UUID:
    if principal.employee_id is None:
        raise Forbidden("Only an employee can use the support desk: the token's subject is not an employee id.")
    return principal.employee_id


async def set_pool_member(
    *, session: AsyncSession, principal: Principal, peers: Peers, employee_id: uuid.UUID, data: PoolMemberWrite
) -> SupportPerson:
    """You may put yourself in the pool; a manager may put people of their unit; admins anyone in their reach.
    Someone else's unit is the one the lifecycle service knows, never the body's word for it."""
    if employee_id == principal.employee_id:
        path = principal.org_unit_path
    else:
        found = await lookups.employee_unit(peers, session, employee_id)
        # Visibility first: someone you may not see is 404, not a 403 that says they exist.
        if found is None or not can_see(principal, owner_id=employee_id, org_unit_path=found):
            raise NotFound(f"Employee {employee_id} was not found.")
        if not principal.has("manager", "org_admin", "group_admin", "integrator"):
            raise Forbidden("You may add yourself, or people of a unit you manage.")
        path = found
    if data.org_unit_path is not None and data.org_unit_path != path:
        raise Unprocessable(
            "The member's unit is the one their employee record has.",
            errors=[{"loc": ["body", "org_unit_path"], "msg": f"is not the member's unit ({path})"}],
        )
    return await repository.upsert_member(
        session,
        {
            "employee_id": employee_id,
            "org_unit_path": path,
            "skills": data.skills,
            "industries": data.industries,
            "weekly_capacity_hours": data.weekly_capacity_hours,
            "active": data.active,
        },
    )


async def create(
    *, session: AsyncSession, principal: Principal, peers: Peers, data: SupportRequestCreate
) -> tuple[SupportRequest, Stages]:
    me = _employee(principal)
    stages = await _stages(peers, session, [me])
    created = SupportRequest(
        opportunity_id=data.opportunity_id,
        requester_id=me,
        requester_org_unit_path=principal.org_unit_path,
        kind=data.kind,
        title=data.title,
        skills=data.skills,
        industry=data.industry,
        urgency=data.urgency,
        deal_amount=data.deal_value.amount if data.deal_value else None,
        deal_currency=data.deal_value.currency if data.deal_value else None,
        hours_needed=data.hours_needed,
        due_date=data.due_date,
        status="open",
        requested_at=session_clock(session).now(),
        requester_stage=stages.stage(me),
        won=False,
    )
    session.add(created)
    await session.flush()
    return created, stages


async def get(
    *, session: AsyncSession, principal: Principal, request_id: uuid.UUID, lock: bool = False
) -> SupportRequest:
    found = await repository.get_visible(session, principal, request_id, for_update=lock)
    if found is None:
        raise NotFound(f"Support request {request_id} was not found.")
    return found


async def queue(
    *,
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    config: desk.PriorityConfig,
    now: dt.datetime,
    window: int,
) -> tuple[list[tuple[desk.Priority, str | None, SupportRequest]], Stages]:
    """Open requests ranked by priority at `now`: stages live (or last known), then the pure rule."""
    open_requests = await repository.open_window(session, principal, limit=window)
    stages = await _stages(peers, session, {r.requester_id for r in open_requests})
    ranked = []
    for r in open_requests:
        stage = stages.stage(r.requester_id) or r.requester_stage
        p = desk.priority(
            urgency=r.urgency, deal_amount=r.deal_amount, stage=stage, created_at=r.requested_at, now=now, config=config
        )
        ranked.append((p, stage, r))
    ranked.sort(key=lambda t: (-t[0].score, t[2].requested_at, str(t[2].id)))
    return ranked, stages


def organisation(support_request: SupportRequest) -> str:
    """The desk of the requester's organisation serves a request: its pool, and no other."""
    return organization_of(support_request.requester_org_unit_path) or "/"


async def matches(*, session: AsyncSession, support_request: SupportRequest) -> list[desk.Match]:
    rows = await repository.candidates(
        session, now=session_clock(session).now(), organisation=organisation(support_request)
    )
    return desk.match(
        skills=support_request.skills,
        industry=support_request.industry,
        hours_needed=float(support_request.hours_needed),
        candidates=[
            desk.Candidate(r.employee_id, frozenset(r.skills), frozenset(r.industries), float(r.free_hours))
            for r in rows
        ],
        exclude=[support_request.requester_id],
    )


async def assign(
    *, session: AsyncSession, principal: Principal, support_request: SupportRequest, assignee_id: uuid.UUID | None
) -> SupportRequest:
    if support_request.status != "open":
        raise Conflict(
            f"Only an open request can be assigned; this one is {support_request.status}.",
            code="illegal_transition",
            status_now=support_request.status,
        )
    dispatcher = principal.has("manager", "org_admin", "group_admin")
    if assignee_id is None:
        if not dispatcher:
            assignee_id = principal.employee_id
        else:
            best = await matches(session=session, support_request=support_request)
            if not best:
                raise Conflict("No pool member has the skills and the free hours for this request.", code="no_match")
            assignee_id = best[0].employee_id
    if assignee_id != principal.employee_id and not dispatcher:
        raise Forbidden("You may take a request yourself; assigning others is for managers.")
    if assignee_id == support_request.requester_id:
        raise Unprocessable(
            "Nobody supports their own request.", errors=[{"loc": ["body", "assignee_id"], "msg": "is the requester"}]
        )
    now = session_clock(session).now()
    member = await repository.candidates(
        session, now=now, organisation=organisation(support_request), employee_id=assignee_id
    )
    if not member:
        # Not in the pool of the request's organisation: unknown, another organisation's or inactive, alike.
        raise lookups.unknown("pool_member", ["body", "assignee_id"])
    if float(member[0].free_hours) < float(support_request.hours_needed):
        raise Conflict(
            f"The assignee has {member[0].free_hours} h free this week; "
            f"the request needs {support_request.hours_needed} h.",
            code="no_capacity",
        )
    support_request.status, support_request.assignee_id, support_request.assigned_at = "assigned", assignee_id, now
    await session.flush()
    return support_request


async def fulfil(*, session: AsyncSession, principal: Principal, support_request: SupportRequest) -> SupportRequest:
    if support_request.status != "assigned":
        raise Conflict(
            f"Only an assigned request can be fulfilled; this one is {support_request.status}.",
            code="illegal_transition",
            status_now=support_request.status,
        )
    if principal.employee_id != support_request.assignee_id and not (
        principal.has("manager") and within(principal.org_unit_path, support_request.requester_org_unit_path)
    ):
        raise Forbidden("Only the assignee or the requester's manager may mark the request fulfilled.")
    support_request.status, support_request.fulfilled_at = "fulfilled", session_clock(session).now()
    if support_request.assigned_at is None:  # assign() sets it with the status this request has
        raise RuntimeError(f"assigned support request {support_request.id} has no assigned_at")
    waited = (support_request.assigned_at - support_request.requested_at).total_seconds() / 3600
    await publish(
        session,
        Event(
            type="support_request.fulfilled",
            subject=str(support_request.id),
            data={
                "support_request_id": str(support_request.id),
                "opportunity_id": str(support_request.opportunity_id),
                "requester_id": str(support_request.requester_id),
                "assignee_id": str(support_request.assignee_id),
                "requester_stage": support_request.requester_stage,
                "waited_hours": round(waited, 2),
            },
        ),
    )
    await session.flush()
    return support_request


async def cancel(*, session: AsyncSession, principal: Principal, support_request: SupportRequest) -> SupportRequest:
    if support_request.status not in ("open", "assigned"):
        raise Conflict(
            f"A {support_request.status} request cannot be cancelled.",
            code="illegal_transition",
            status_now=support_request.status,
        )
    line = can_see(
        principal, owner_id=support_request.requester_id, org_unit_path=support_request.requester_org_unit_path
    )
    # An integration's key reads the desk; cancelling is for the requester, their managers and admins.
    if not line or (principal.employee_id is None and not principal.has("org_admin", "group_admin")):
        raise Forbidden("Only the requester, their managers or an admin may cancel the request.")
    support_request.status = "cancelled"
    await session.flush()
    return support_request


async def fairness(
    *, session: AsyncSession, principal: Principal, since: dt.date, until: dt.date
) -> list[StageFigures]:
    rows = {r.stage: r for r in await repository.fairness_by_stage(session, principal, since=since, until=until)}
    out = []
    for stage in [*desk.STAGES, None]:
        r = rows.get(stage)
        if r is None and stage is None:
            continue
        requests = r.requests if r else 0
        fulfilled = r.fulfilled if r else 0
        out.append(
            StageFigures(
                stage=stage or "unknown",
                requests=requests,
                fulfilled=fulfilled,
                fulfilment_rate=round(fulfilled / requests, 4) if requests else None,
                median_wait_hours=round(r.median, 2) if r and r.median is not None else None,
                p90_wait_hours=round(r.p90, 2) if r and r.p90 is not None else None,
            )
        )
    return out


def present(r: SupportRequest) -> SupportRequestRead:
    return SupportRequestRead(
        id=r.id,
        opportunity_id=r.opportunity_id,
        requester_id=r.requester_id,
        requester_org_unit_path=r.requester_org_unit_path,
        kind=r.kind,
        title=r.title,  # type: ignore[arg-type]
        skills=r.skills,
        industry=r.industry,
        urgency=r.urgency,  # type: ignore[arg-type]
        deal_value=MoneyRead(amount=f"{r.deal_amount:.2f}", currency=r.deal_currency)
        if r.deal_amount is not None and r.deal_currency
        else None,
        hours_needed=float(r.hours_needed),
        due_date=r.due_date,
        requested_at=r.requested_at,
        status=r.status,  # type: ignore[arg-type]
        requester_stage=r.requester_stage,  # type: ignore[arg-type]
        assignee_id=r.assignee_id,
        assigned_at=r.assigned_at,
        fulfilled_at=r.fulfilled_at,
        won=r.won,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=r.version,
    )
