from fastapi import APIRouter, Request, Response

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, PreconditionFailed, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.domain.policy import Policy
from services.opportunity.policies import service

router = APIRouter(
    prefix="/api/v1/opportunities/policy",
    tags=["policies"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


@router.get("", summary="Your organisation's plan checklist, stage gates and assignment weights", response_model=Policy)
async def get_policy(response: Response, session: DbSession, principal: CurrentPrincipal) -> Policy:
    row = await service.get_row(session, principal)
    set_etag(response, row.version if row else 0)
    return Policy.model_validate(row.document) if row else Policy()


@router.put(
    "",
    summary="Replace your organisation's policy (org and group admins)",
    response_model=Policy,
    responses=problem_responses(Forbidden, PreconditionFailed, Unprocessable),
)
async def put_policy(
    policy: Policy, request: Request, response: Response, session: DbSession, principal: CurrentPrincipal
) -> Policy:
    current = await service.get_row(session, principal)
    check_if_match(request, current.version if current else 0)
    row = await service.put(session=session, principal=principal, policy=policy)
    set_etag(response, row.version)
    return Policy.model_validate(row.document)
