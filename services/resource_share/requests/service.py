"""Resource request use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import check_as_of, session_clock
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish
from services.resource_share import lookups
from services.resource_share.access import may_decide
from services.resource_share.domain import workflow
from services.resource_share.domain.paths import organization_of
from services.resource_share.requests import repository
from services.resource_share.requests.models import ResourceRequest
from services.resource_share.requests.schemas import RequestCreate, RequestRead
from services.resource_share.resources import service as resources
from services.resource_share.resources.models import Disclosure, ResourceType


async def get(
    *, session: AsyncSession, principal: Principal, request_id: uuid.UUID, lock: bool = False
) -> ResourceRequest:
    found = await repository.get_visible(session, principal, request_id, for_update=lock)
    if found is None:
        raise NotFound(f"Resource request {request_id} was not found.")
    return found


async def create(
    *, session: AsyncSession, principal: Principal, data: RequestCreate, sla_hours: int, expiry_days: int
) -> ResourceRequest:
    me = principal.employee_id
    if me is None:
        raise Forbidden("Only an employee can request a resource: the token's subject is not an employee id.")
    try:
        resource = await resources.get(session=session, principal=principal, resource_id=data.resource_id)
    except NotFound:
        # A body's reference: 422, the same for a resource that does not exist and one you may not see.
        raise lookups.unknown("resource", ["body", "resource_id"]) from None
    if resource.owner_id == me:
        raise Unprocessable(
            "You own this resource; there is nothing to request.",
            errors=[{"loc": ["body", "resource_id"], "msg": "is your own resource"}],
        )
    now = session_clock(session).now()
    needed_by = data.needed_by
    if needed_by is not None:
        check_as_of(needed_by.date(), "needed_by", loc="body")
        if needed_by.tzinfo is None:  # a time without an offset is taken as UTC, like every stored time
            needed_by = needed_by.replace(tzinfo=dt.UTC)
    expires_at = needed_by or now + dt.timedelta(days=expiry_days)
    if expires_at <= now:
        raise Unprocessable(
            "needed_by is already past.", errors=[{"loc": ["body", "needed_by"], "msg": "is in the past"}]
        )
    request = ResourceRequest(
        resource_id=resource.id,
        resource_type=resource.type,
        owner_id=resource.owner_id,
        owner_org_unit_path=resource.org_unit_path,
        owner_disclosure=resource.disclosure or Disclosure.IDENTITY,
        requester_id=me,
        requester_org_unit_path=principal.org_unit_path,
        opportunity_id=data.opportunity_id,
        message=data.message,
        status="requested",
        requested_at=now,
        due_at=min(now + dt.timedelta(hours=sla_hours), expires_at),
        expires_at=expires_at,
        decision_note="",
        rating_comment="",
    )
    session.add(request)
    await session.flush()
    return request


async def act(
    *,
    session: AsyncSession,
    principal: Principal,
    request: ResourceRequest,
    action: str,
    note: str = "",
    outcome: str | None = None,
    rating: int | None = None,
) -> ResourceRequest:
    """Move the request along its workflow; the owner's side decides and fulfils, the requester rates."""
    if action in workflow.DECIDER_ACTIONS and not may_decide(
        principal, owner_id=request.owner_id, owner_org_unit_path=request.owner_org_unit_path
    ):
        raise Forbidden(f"Only the owner of the resource or their manager may {action} this request.")
    if action in workflow.REQUESTER_ACTIONS and principal.employee_id != request.requester_id:
        raise Forbidden(f"Only the requester may {action} this request.")
    now = session_clock(session).now()
    try:
        request.status = workflow.next_status(
            workflow.REQUEST_TRANSITIONS, status=request.status, action=action, expires_at=request.expires_at, now=now
        )
    except workflow.IllegalTransition as exc:
        raise Conflict(
            f"Cannot {action} this request: it is {exc.status}.",
            code="illegal_transition",
            status_now=exc.status,
            allowed_actions=workflow.allowed_actions(workflow.REQUEST_TRANSITIONS, exc.status),
        ) from None
    if action in ("approve", "decline"):
        request.decided_by, request.decided_at, request.decision_note = principal.employee_id, now, note
    elif action == "fulfil":
        request.fulfilled_at = now
        if outcome is not None:
            request.outcome = outcome
        await repository.count_use(session, request.resource_id)
        await publish(session, used_event(request))
    elif action == "rate":
        if rating is None:  # the rate route always passes the rating its body validated
            raise ValueError("the rate action needs a rating")
        request.rating, request.rating_comment, request.rated_at = rating, note, now
        await repository.add_rating(session, request.resource_id, rating)
    await session.flush()
    return request


async def record_outcome(
    *,
    session: AsyncSession,
    principal: Principal,
    request: ResourceRequest,
    outcome: str,
    opportunity_id: uuid.UUID | None,
) -> ResourceRequest:
    if principal.employee_id != request.requester_id and not may_decide(
        principal, owner_id=request.owner_id, owner_org_unit_path=request.owner_org_unit_path
    ):
        raise Forbidden("Only the requester, the owner or the owner's manager may record the outcome.")
    if request.status not in ("fulfilled", "rated"):
        raise Conflict(
            f"An outcome is kept only for a fulfilled request; this one is {request.status}.",
            code="illegal_transition",
            status_now=request.status,
        )
    request.outcome = outcome
    if opportunity_id is not None:
        request.opportunity_id = opportunity_id
    await session.flush()
    return request


def used_event(request: ResourceRequest) -> Event:
    return Event(
        type="resource.used",
        subject=str(request.resource_id),
        data={
            "resource_id": str(request.resource_id),
            "resource_type": request.resource_type,
            "owner_id": str(request.owner_id),
            "owner_org_unit_path": request.owner_org_unit_path,
            "user_id": str(request.requester_id),
            "user_org_unit_path": request.requester_org_unit_path,
            "request_id": str(request.id),
            "opportunity_id": str(request.opportunity_id) if request.opportunity_id else None,
            "outcome": request.outcome,
        },
    )


def present(request: ResourceRequest, principal: Principal, *, now: dt.datetime) -> RequestRead:
    """The request as `principal` sees it at `now` (the business clock): past
    its expiry an undecided request reads `expired`, past its due time `overdue`."""
    status = workflow.effective_status(request.status, request.expires_at, now)
    owner_side = can_see(principal, owner_id=request.owner_id, org_unit_path=request.owner_org_unit_path)
    hidden = request.resource_type == ResourceType.RELATIONSHIP and not owner_side
    owner_path: str | None = request.owner_org_unit_path
    if hidden and request.owner_disclosure == Disclosure.ORGANIZATION:
        owner_path = organization_of(request.owner_org_unit_path)
    elif hidden and request.owner_disclosure == Disclosure.ANONYMOUS:
        owner_path = None
    show_owner = not hidden or request.owner_disclosure == Disclosure.IDENTITY
    return RequestRead(
        id=request.id,
        resource_id=request.resource_id,
        resource_type=request.resource_type,
        owner_id=request.owner_id if show_owner else None,
        owner_org_unit_path=owner_path,
        requester_id=request.requester_id,
        requester_org_unit_path=request.requester_org_unit_path,
        opportunity_id=request.opportunity_id,
        message=request.message,
        requested_at=request.requested_at,
        status=status,  # type: ignore[arg-type]
        allowed_actions=workflow.allowed_actions(workflow.REQUEST_TRANSITIONS, status),
        due_at=request.due_at,
        overdue=status == "requested" and request.due_at <= now,
        expires_at=request.expires_at,
        decided_by=request.decided_by if show_owner else None,
        decided_at=request.decided_at,
        decision_note=request.decision_note,
        fulfilled_at=request.fulfilled_at,
        rating=request.rating,
        rating_comment=request.rating_comment,
        rated_at=request.rated_at,
        outcome=request.outcome,  # type: ignore[arg-type]
        created_at=request.created_at,
        updated_at=request.updated_at,
        version=request.version,
    )
