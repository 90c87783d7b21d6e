"""An account's tier: re-evaluate it, override it, remove the override.

The routes keep the `segmentation` tag (their operation ids are a contract) but
live with the accounts: they read and answer an account, and segmentation sits
below accounts (accounts -> segmentation, never the other way)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, NotFound, Unauthorized, problem_responses
from sanlun.kernel.etag import set_etag
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.accounts import service as accounts
from services.key_account.accounts.schemas import AccountRead
from services.key_account.segmentation import service as segmentation
from services.key_account.segmentation.schemas import TierOverride

router = APIRouter(
    prefix="/api/v1/accounts",
    tags=["segmentation"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

AccountId = Annotated[uuid.UUID, Path(description="The account's id.")]


@router.post(
    "/{account_id}/segmentation",
    summary="Re-evaluate an account's tier with the policy in force",
    response_model=AccountRead,
    responses=problem_responses(NotFound),
)
async def evaluate_account_tier(
    account_id: AccountId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> AccountRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    account = await segmentation.evaluate(session=session, account=account)
    set_etag(response, account.version)
    return AccountRead.model_validate(account)


@router.put(
    "/{account_id}/tier-override",
    summary="Override an account's tier, with a reason",
    response_model=AccountRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def override_account_tier(
    account_id: AccountId, data: TierOverride, response: Response, session: DbSession, principal: CurrentPrincipal
) -> AccountRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    account = await segmentation.override(
        session=session, principal=principal, account=account, tier=data.tier, reason=data.reason
    )
    set_etag(response, account.version)
    return AccountRead.model_validate(account)


@router.delete(
    "/{account_id}/tier-override",
    summary="Remove an account's tier override",
    response_model=AccountRead,
    responses=problem_responses(NotFound, Forbidden),
)
async def remove_account_tier_override(
    account_id: AccountId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> AccountRead:
    account = await accounts.get(session=session, principal=principal, account_id=account_id)
    account = await segmentation.override(session=session, principal=principal, account=account, tier=None, reason=None)
    set_etag(response, account.version)
    return AccountRead.model_validate(account)
