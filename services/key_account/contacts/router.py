import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.accounts import service as accounts
from services.key_account.contacts import repository, service
from services.key_account.contacts.models import Contact, InfluenceLine, Relationship
from services.key_account.contacts.schemas import (
    ContactCreate,
    ContactRead,
    ContactUpdate,
    InfluenceRead,
    InfluenceWrite,
    RelationshipMap,
    RelationshipRead,
    RelationshipWrite,
)

router = APIRouter(
    prefix="/api/v1/accounts/{account_id}",
    tags=["contacts"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, NotFound),
)

AccountId = Annotated[uuid.UUID, Path(description="The account's id.")]
ContactId = Annotated[uuid.UUID, Path(description="The contact's id.")]


@router.get("/contacts", summary="List an account's contacts", response_model=Page[ContactRead])
async def list_contacts(
    account_id: AccountId,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    buying_role: Annotated[str | None, Query(max_length=32, description="Only contacts with this buying role.")] = None,
) -> Page[ContactRead]:
    await accounts.read(session=session, principal=principal, account_id=account_id)
    stmt = repository.contacts_statement(account_id, buying_role=buying_role)
    rows, next_cursor = await paginate(session, request, stmt, order_by=(Contact.created_at, Contact.id), params=page)
    return Page[ContactRead](items=[ContactRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/contacts",
    summary="Add a contact to an account",
    status_code=status.HTTP_201_CREATED,
    response_model=ContactRead,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def create_contact(
    account_id: AccountId, data: ContactCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ContactRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    contact = await service.create(session=session, account=account, data=data)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}/contacts/{contact.id}"
    set_etag(response, contact.version)
    return ContactRead.model_validate(contact)


@router.get("/contacts/{contact_id}", summary="Get one contact", response_model=ContactRead)
async def get_contact(
    account_id: AccountId, contact_id: ContactId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ContactRead:
    account = await accounts.read(session=session, principal=principal, account_id=account_id)
    contact = await service.get(session=session, account=account, contact_id=contact_id)
    set_etag(response, contact.version)
    return ContactRead.model_validate(contact)


@router.patch(
    "/contacts/{contact_id}",
    summary="Change a contact",
    response_model=ContactRead,
    responses=problem_responses(Forbidden, PreconditionFailed, Unprocessable),
)
async def update_contact(
    account_id: AccountId,
    contact_id: ContactId,
    data: ContactUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> ContactRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    contact = await service.get(session=session, account=account, contact_id=contact_id)
    check_if_match(request, contact.version)
    contact = await service.update(session=session, account=account, contact=contact, data=data)
    set_etag(response, contact.version)
    return ContactRead.model_validate(contact)


@router.get(
    "/relationships", summary="List our relationships to an account's contacts", response_model=Page[RelationshipRead]
)
async def list_relationships(
    account_id: AccountId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[RelationshipRead]:
    await accounts.read(session=session, principal=principal, account_id=account_id)
    stmt = repository.relationships_statement(account_id)
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(Relationship.created_at, Relationship.id), params=page
    )
    return Page[RelationshipRead](items=[RelationshipRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.put(
    "/relationships",
    summary="Record (create or replace) an employee's relationship to a contact",
    response_model=RelationshipRead,
    responses=problem_responses(Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def record_relationship(
    account_id: AccountId,
    data: RelationshipWrite,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> RelationshipRead:
    """`employee_id` must be an employee you may see (the employee lifecycle service is asked, with your
    token) and `contact_id` a contact of this account: otherwise 422 `unknown_reference`, the same for an
    id that does not exist and one you may not see."""
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    relationship = await service.record_relationship(
        session=session, principal=principal, peers=peers, account=account, data=data
    )
    set_etag(response, relationship.version)
    return RelationshipRead.model_validate(relationship)


@router.get(
    "/influence-lines", summary="List influence lines between an account's contacts", response_model=Page[InfluenceRead]
)
async def list_influence_lines(
    account_id: AccountId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[InfluenceRead]:
    await accounts.read(session=session, principal=principal, account_id=account_id)
    stmt = repository.influence_lines_statement(account_id)
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(InfluenceLine.created_at, InfluenceLine.id), params=page
    )
    return Page[InfluenceRead](items=[InfluenceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/influence-lines",
    summary="Record that one contact influences another",
    status_code=status.HTTP_201_CREATED,
    response_model=InfluenceRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable),
)
async def create_influence_line(
    account_id: AccountId, data: InfluenceWrite, response: Response, session: DbSession, principal: CurrentPrincipal
) -> InfluenceRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    line = await service.add_influence(session=session, account=account, data=data)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}/influence-lines/{line.id}"
    set_etag(response, line.version)
    return InfluenceRead.model_validate(line)


@router.get(
    "/relationship-map",
    summary="The account's relationship map as nodes and edges, ready to draw",
    response_model=RelationshipMap,
)
async def get_relationship_map(
    account_id: AccountId, session: DbSession, principal: CurrentPrincipal
) -> RelationshipMap:
    account = await accounts.read(session=session, principal=principal, account_id=account_id)
    return RelationshipMap.model_validate(await service.relationship_map(session=session, account=account))
