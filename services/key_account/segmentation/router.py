from typing import Annotated

from fastapi import APIRouter, Query

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.domain.segmentation import Policy
from services.key_account.segmentation import service
from services.key_account.segmentation.schemas import PolicyRead, PolicySaved, PolicyWrite

router = APIRouter(
    prefix="/api/v1/accounts",
    tags=["segmentation"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


def _read(policy: Policy, org_path: str | None) -> PolicyRead:
    data = policy.as_dict()
    return PolicyRead(org_path=org_path, **data)


@router.get(
    "/segmentation-policy",
    summary="The segmentation policy in force for an org unit",
    response_model=PolicyRead,
    responses=problem_responses(NotFound),
)
async def get_segmentation_policy(
    session: DbSession,
    principal: CurrentPrincipal,
    org_unit: Annotated[
        str | None, Query(max_length=500, description="Org unit of your organisation; omitted: yours.")
    ] = None,
) -> PolicyRead:
    """Readable inside the organisation only (group admins: everywhere): an org unit of another
    organisation answers 404, as one that does not exist."""
    path = service.check_may_read(principal, org_unit or principal.org_unit_path)
    policy, stored_at = await service.effective_policy(session=session, org_unit_path=path)
    return _read(policy, stored_at)


@router.put(
    "/segmentation-policy",
    summary="Set an organisation's segmentation policy (new version)",
    response_model=PolicySaved,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def put_segmentation_policy(data: PolicyWrite, session: DbSession, principal: CurrentPrincipal) -> PolicySaved:
    """Every account under the organisation is re-scored with it in the same
    transaction (tier overrides stay in force)."""
    body = data.model_dump(exclude={"org_path"})
    policy = Policy.from_dict({**body, "thresholds": data.thresholds.model_dump()})
    org_path = data.org_path or principal.organization_path
    version, rescored = await service.save_policy(
        session=session, principal=principal, org_path=org_path, policy=policy
    )
    saved = _read(Policy.from_dict({**policy.as_dict(), "version": version}), org_path)
    return PolicySaved(**saved.model_dump(), accounts_rescored=rescored)
