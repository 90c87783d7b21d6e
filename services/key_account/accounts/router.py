import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.bulk import deprecated_alias
from sanlun.kernel.clock import ClockDep
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
from services.key_account.accounts import bulk, repository, service
from services.key_account.accounts.schemas import (
    AccountBulkReport,
    AccountBulkUpsert,
    AccountCreate,
    AccountRead,
    AccountUpdate,
)

router = APIRouter(
    prefix="/api/v1/accounts",
    tags=["accounts"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

AccountId = Annotated[uuid.UUID, Path(description="The account's id.")]


@router.get(
    "",
    summary="List the accounts you may see (including, read-only, the accounts of the deals you work on)",
    response_model=Page[AccountRead],
)
async def list_accounts(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    clock: ClockDep,
    name_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Names starting with this, any case; results in alphabetical order.",
        ),
    ] = None,
    industry: Annotated[str | None, Query(max_length=100, description="Exact industry.")] = None,
    tier: Annotated[
        Literal["strategic", "key", "growth", "transactional"] | None, Query(description="Effective tier.")
    ] = None,
    parent_id: Annotated[uuid.UUID | None, Query(description="Only direct subsidiaries of this account.")] = None,
    org_unit: Annotated[
        str | None, Query(max_length=500, description="Only accounts owned by this org unit and below.")
    ] = None,
) -> Page[AccountRead]:
    stmt = repository.list_statement(
        principal,
        name_prefix=name_prefix,
        industry=industry,
        parent_id=parent_id,
        org_unit=org_unit,
        tier=tier,
        day=clock.today(),
    )
    order = repository.list_order(name_prefix=name_prefix)
    rows, next_cursor = await paginate(session, request, stmt, order_by=order, params=page)
    access = await service.access(session=session, principal=principal, accounts=list(rows))
    return Page[AccountRead](
        items=[AccountRead.model_validate(r).model_copy(update={"access": access.get(r.id)}) for r in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "",
    summary="Create an account",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_account(
    data: AccountCreate, response: Response, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> AccountRead:
    """`owner_id` and `parent_id` must name an employee and an account you may see: an unknown id and one
    you may not see both answer 422 `unknown_reference` (the employee lifecycle service is asked, with your
    token; 502/504 when it cannot answer, and nothing is stored)."""
    account = await service.create(session=session, principal=principal, peers=peers, data=data)
    response.headers["Location"] = f"/api/v1/accounts/{account.id}"
    set_etag(response, account.version)
    return AccountRead.model_validate(account)


@router.get(
    "/{account_id}",
    summary="Get one account",
    response_model=AccountRead,
    responses=problem_responses(NotFound),
)
async def get_account(
    account_id: AccountId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> AccountRead:
    """Also readable by the owner and team members of an opportunity on the account
    (`access: "deal"`), and the managers above that deal, who may not change it."""
    account = await service.read(session=session, principal=principal, account_id=account_id)
    access = await service.access(session=session, principal=principal, accounts=[account])
    set_etag(response, account.version)
    return AccountRead.model_validate(account).model_copy(update={"access": access.get(account.id)})


@router.patch(
    "/{account_id}",
    summary="Change an account",
    response_model=AccountRead,
    responses=problem_responses(
        NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout
    ),
)
async def update_account(
    account_id: AccountId,
    data: AccountUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> AccountRead:
    """A new `owner_id` or `parent_id` is checked as on create (422 `unknown_reference`)."""
    account = await service.get(session=session, principal=principal, account_id=account_id)
    check_if_match(request, account.version)
    account = await service.update(session=session, principal=principal, peers=peers, account=account, data=data)
    set_etag(response, account.version)
    return AccountRead.model_validate(account)


@router.post(
    ":bulk-upsert",
    summary="Create or update many accounts by external id, with a report per row",
    response_model=AccountBulkReport,
    responses=problem_responses(Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def bulk_upsert_accounts(
    data: AccountBulkUpsert, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> AccountBulkReport:
    """The kernel's bulk contract (`sanlun.kernel.bulk`). Rows that fail (bad
    values, duplicates in the batch, unknown parents, cycles, an `owner_id` that is
    no employee you may see: `unknown_reference`) are reported and not written;
    the others are written, tiered and reported. A field a row leaves out keeps
    its stored value; one it sends as null is cleared (not `name`, `org_unit_path`
    or `parent_external_id`: null leaves them as they are); with a `source`, the
    merge decides which of the row's fields apply. The owners of a batch are
    checked with one call to the employee lifecycle service; when it cannot
    answer, the whole batch fails with 502/504 and nothing is written."""
    return await bulk.bulk_upsert(session=session, principal=principal, peers=peers, request=data)


# Until the next release: the URL this endpoint had before the one bulk contract.
deprecated_alias(router, alias="/bulk-upsert", of=":bulk-upsert")
