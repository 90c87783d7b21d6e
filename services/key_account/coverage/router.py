import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep, check_as_of
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
from services.key_account.coverage import repository, service
from services.key_account.coverage.schemas import (
    AccountViolations,
    CoverageRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    SuggestedMember,
    ViolationRead,
)
from services.key_account.domain.coverage import violations

router = APIRouter(
    prefix="/api/v1/accounts",
    tags=["coverage"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

AccountId = Annotated[uuid.UUID, Path(description="The account's id.")]
MemberId = Annotated[uuid.UUID, Path(description="The coverage member's id.")]


@router.get(
    "/coverage-violations",
    summary="Strategic and key accounts whose team breaks the coverage rule",
    response_model=Page[AccountViolations],
)
async def list_coverage_violations(
    request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination, clock: ClockDep
) -> Page[AccountViolations]:
    """Each with `suggested_members`: the owners of deals on the account who are
    not on its team (most deals first), the people most likely to cover it."""
    day = clock.today()
    stmt = repository.violations_statement(principal, day)
    rows, next_cursor = await paginate(
        session,
        request,
        stmt,
        order_by=(stmt.selected_columns.created_at, stmt.selected_columns.id),
        params=page,
        scalars=False,
    )
    suggestions = await repository.deal_owners(session, [r.id for r in rows], day)
    items = []
    for r in rows:
        roles = ["account_owner"] * r.owners + ["solution_consultant"] * r.solution_members
        items.append(
            AccountViolations(
                account_id=r.id,
                name=r.name,
                tier=r.tier,
                org_unit_path=r.org_unit_path,
                owners=r.owners,
                solution_members=r.solution_members,
                violations=[ViolationRead(**v.as_dict()) for v in violations(r.tier, roles)],
                suggested_members=[
                    SuggestedMember(employee_id=s.owner_id, deals=s.deals, open_deals=s.open_deals)
                    for s in suggestions.get(r.id, [])
                ],
            )
        )
    return Page[AccountViolations](items=items, next_cursor=next_cursor)


@router.get(
    "/{account_id}/coverage",
    summary="An account's team on a day, and what it lacks for its tier",
    response_model=CoverageRead,
    responses=problem_responses(NotFound, Unprocessable),
)
async def get_account_coverage(
    account_id: AccountId,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
    as_of: Annotated[
        dt.date | None, Query(description="Day the team is read for (1900-01-01 to 2199-12-31); omitted: today.")
    ] = None,
) -> CoverageRead:
    """Readable by whoever reads the account, also through a deal on it (implicit sharing)."""
    check_as_of(as_of)
    account = await accounts.read(session=session, principal=principal, account_id=account_id)
    day = as_of or clock.today()
    members, found = await service.team(session=session, account=account, on=day)
    return CoverageRead(
        account_id=account.id,
        as_of=day,
        tier=account.tier,
        version=account.coverage_version,
        members=[MemberRead.model_validate(m) for m in members],
        violations=[ViolationRead(**v.as_dict()) for v in found],
    )


@router.post(
    "/{account_id}/coverage/members",
    summary="Add a member to an account's team",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def add_coverage_member(
    account_id: AccountId,
    data: MemberCreate,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> MemberRead:
    """`employee_id` must be an employee you may see (the employee lifecycle service is asked, with your
    token): an unknown id and one you may not see both answer 422 `unknown_reference`."""
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    member = await service.add_member(session=session, principal=principal, peers=peers, account=account, data=data)
    response.headers["Location"] = f"/api/v1/accounts/{account_id}/coverage/members/{member.id}"
    set_etag(response, member.version)
    return MemberRead.model_validate(member)


@router.get(
    "/{account_id}/coverage/members/{member_id}",
    summary="Get one coverage member",
    response_model=MemberRead,
    responses=problem_responses(NotFound),
)
async def get_coverage_member(
    account_id: AccountId, member_id: MemberId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> MemberRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    member = await service.get_member(session=session, account=account, member_id=member_id)
    set_etag(response, member.version)
    return MemberRead.model_validate(member)


@router.patch(
    "/{account_id}/coverage/members/{member_id}",
    summary="Change a member's role or validity (e.g. end it)",
    response_model=MemberRead,
    responses=problem_responses(NotFound, Forbidden, PreconditionFailed, Unprocessable),
)
async def update_coverage_member(
    account_id: AccountId,
    member_id: MemberId,
    data: MemberUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> MemberRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    member = await service.get_member(session=session, account=account, member_id=member_id)
    check_if_match(request, member.version)
    member = await service.update_member(
        session=session, principal=principal, account=account, member=member, data=data
    )
    set_etag(response, member.version)
    return MemberRead.model_validate(member)


@router.delete(
    "/{account_id}/coverage/members/{member_id}",
    summary="Remove a member recorded by mistake (end their validity to keep history)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, Forbidden, PreconditionFailed),
)
async def remove_coverage_member(
    account_id: AccountId, member_id: MemberId, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    member = await service.get_member(session=session, account=account, member_id=member_id)
    check_if_match(request, member.version)
    await service.remove_member(session=session, principal=principal, account=account, member=member)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
