"""Introduction use cases. Functions flush; the edge commits."""

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish
from services.resource_share.access import may_decide
from services.resource_share.domain import paths, workflow
from services.resource_share.introductions import repository
from services.resource_share.introductions.models import Introduction
from services.resource_share.introductions.schemas import (
    IntroductionCreate,
    IntroductionRead,
    Node,
    Party,
    PathRead,
    Step,
)
from services.resource_share.requests import repository as requests_repository

# Enough to find any path the client may have been shown and then ask for.
SEARCH_DEPTH = 500


def _requester(principal: Principal) -> uuid.UUID:
    if principal.employee_id is None:
        raise Forbidden("Only an employee can look for introductions: the token's subject is not an employee id.")
    return principal.employee_id


async def find_paths(
    *,
    session: AsyncSession,
    principal: Principal,
    contact_id: uuid.UUID | None,
    account_id: uuid.UUID | None,
    config: paths.PathConfig,
    limit: int,
) -> list[paths.Path]:
    me = _requester(principal)
    edges = await repository.subgraph(
        session,
        requester_id=me,
        contact_id=contact_id,
        account_id=account_id,
        today=session_clock(session).today(),
    )
    targets = {contact_id} if contact_id is not None else {e.contact_id for e in edges if e.account_id == account_id}
    return paths.rank_paths(
        requester_id=me,
        requester_path=principal.org_unit_path,
        targets=targets,
        relationships=edges,
        config=config,
        limit=limit,
    )


def _party(rel: paths.Relationship, viewer: uuid.UUID | None) -> Party:
    shown = paths.disclose_owner(rel, viewer_id=viewer)
    if rel.owner_id == viewer:
        shown["disclosure"] = "you"
    return Party(**shown)


def present_path(path: paths.Path, rank: int, viewer: uuid.UUID) -> PathRead:
    # An employee node is shown as the relationship leaving it on this path discloses.
    leaving: dict[uuid.UUID, paths.Relationship] = {}
    for hop in path.hops:
        if hop.relationship is not None:
            leaving.setdefault(hop.relationship.owner_id, hop.relationship)

    def node(ref: tuple[str, uuid.UUID], via: paths.Relationship | None) -> Node:
        kind, ident = ref
        if kind == "contact":
            return Node(type="contact", contact_id=ident, shared=dict(via.shared) if via else None)
        if ident == viewer:
            return Node(
                type="employee",
                employee=Party(disclosure="you", employee_id=viewer, org_unit_path=None, organization=None),
            )
        return Node(type="employee", employee=_party(leaving[ident], viewer))

    steps = [
        Step(
            kind=hop.kind,  # type: ignore[arg-type]
            source=node(hop.source, hop.relationship),
            target=node(hop.target, hop.relationship),
            strength=round(hop.weight, 4),
            relationship_id=hop.relationship.id if hop.relationship else None,
        )
        for hop in path.hops
    ]
    return PathRead(
        rank=rank,
        strength=round(path.strength, 4),
        hops=len(path.hops),
        connector=_party(path.connector, viewer),
        target_contact_id=path.target_contact_id,
        relationship_ids=list(path.relationship_ids),
        steps=steps,
    )


async def create(
    *, session: AsyncSession, principal: Principal, data: IntroductionCreate, config: paths.PathConfig, expiry_days: int
) -> Introduction:
    found = await find_paths(
        session=session,
        principal=principal,
        contact_id=data.contact_id,
        account_id=data.account_id,
        config=config,
        limit=SEARCH_DEPTH,
    )
    wanted = tuple(data.relationship_ids)
    path = next((p for p in found if p.relationship_ids == wanted), None)
    if path is None:
        raise Unprocessable(
            "No such path to the target (any more): query the paths again.",
            errors=[{"loc": ["body", "relationship_ids"], "msg": "is not a current path to the target"}],
        )
    connector = path.connector
    now = session_clock(session).now()
    introduction = Introduction(
        requester_id=principal.employee_id,
        requester_org_unit_path=principal.org_unit_path,
        connector_id=connector.owner_id,
        connector_org_unit_path=connector.owner_org_unit_path,
        connector_disclosure=connector.disclosure,
        relationship_id=connector.id,
        relationship_ids=list(wanted),
        target_contact_id=path.target_contact_id,
        target_account_id=data.account_id
        or next(
            (h.relationship.account_id for h in reversed(path.hops) if h.relationship and h.relationship.account_id),
            None,
        ),
        strength=Decimal(str(round(path.strength, 4))),
        hops=len(path.hops),
        opportunity_id=data.opportunity_id,
        message=data.message,
        status="requested",
        requested_at=now,
        expires_at=now + dt.timedelta(days=expiry_days),
        note="",
    )
    session.add(introduction)
    await session.flush()
    return introduction


async def get(
    *, session: AsyncSession, principal: Principal, introduction_id: uuid.UUID, lock: bool = False
) -> Introduction:
    found = await repository.get_visible(session, principal, introduction_id, for_update=lock)
    if found is None:
        raise NotFound(f"Introduction {introduction_id} was not found.")
    return found


async def act(
    *, session: AsyncSession, principal: Principal, introduction: Introduction, action: str, note: str
) -> Introduction:
    if not may_decide(
        principal, owner_id=introduction.connector_id, owner_org_unit_path=introduction.connector_org_unit_path
    ):
        raise Forbidden(f"Only the connector or their manager may {action} this introduction.")
    now = session_clock(session).now()
    try:
        introduction.status = workflow.next_status(
            workflow.INTRODUCTION_TRANSITIONS,
            status=introduction.status,
            action=action,
            expires_at=introduction.expires_at,
            now=now,
        )
    except workflow.IllegalTransition as exc:
        raise Conflict(
            f"Cannot {action} this introduction: it is {exc.status}.",
            code="illegal_transition",
            status_now=exc.status,
            allowed_actions=workflow.allowed_actions(workflow.INTRODUCTION_TRANSITIONS, exc.status),
        ) from None
    introduction.note = note or introduction.note
    if action in ("accept", "decline"):
        introduction.decided_at = now
    if introduction.status in workflow.INTRODUCTION_OUTCOMES:
        introduction.completed_at = now
        if introduction.status == "introduced":
            await requests_repository.count_use(session, introduction.relationship_id)
        await publish(session, completed_event(introduction))
    await session.flush()
    return introduction


def completed_event(introduction: Introduction) -> Event:
    return Event(
        type="introduction.completed",
        subject=str(introduction.id),
        data={
            "introduction_id": str(introduction.id),
            "connector_id": str(introduction.connector_id),
            "requester_id": str(introduction.requester_id),
            "connector_org_unit_path": introduction.connector_org_unit_path,
            "requester_org_unit_path": introduction.requester_org_unit_path,
            "account_id": str(introduction.target_account_id) if introduction.target_account_id else None,
            "contact_id": str(introduction.target_contact_id),
            "outcome": introduction.status,
        },
    )


def present(introduction: Introduction, principal: Principal, *, now: dt.datetime) -> IntroductionRead:
    """The introduction as `principal` sees it at `now` (the business clock)."""
    status = workflow.effective_status(introduction.status, introduction.expires_at, now)
    connector_side = can_see(
        principal, owner_id=introduction.connector_id, org_unit_path=introduction.connector_org_unit_path
    )
    rel = paths.Relationship(
        id=introduction.relationship_id,
        owner_id=introduction.connector_id,
        owner_org_unit_path=introduction.connector_org_unit_path,
        contact_id=introduction.target_contact_id,
        account_id=introduction.target_account_id,
        strength=0,
        disclosure="identity" if connector_side else introduction.connector_disclosure,
    )
    return IntroductionRead(
        id=introduction.id,
        requester_id=introduction.requester_id,
        requester_org_unit_path=introduction.requester_org_unit_path,
        connector=_party(rel, principal.employee_id),
        relationship_ids=introduction.relationship_ids,
        target_contact_id=introduction.target_contact_id,
        target_account_id=introduction.target_account_id,
        strength=float(introduction.strength),
        hops=introduction.hops,
        opportunity_id=introduction.opportunity_id,
        message=introduction.message,
        requested_at=introduction.requested_at,
        status=status,  # type: ignore[arg-type]
        allowed_actions=workflow.allowed_actions(workflow.INTRODUCTION_TRANSITIONS, status),
        expires_at=introduction.expires_at,
        decided_at=introduction.decided_at,
        completed_at=introduction.completed_at,
        note=introduction.note,
        created_at=introduction.created_at,
        updated_at=introduction.updated_at,
        version=introduction.version,
    )
