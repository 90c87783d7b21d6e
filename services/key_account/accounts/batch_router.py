"""Many accounts in one read: `POST /api/v1/accounts:batch-get`.

For callers that check many references at once (an opportunity bulk upsert
names up to a thousand deals' accounts): the same answer as a `GET` of each
id, in one call and one statement."""

from fastapi import APIRouter

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Unauthorized, problem_responses
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.accounts import service
from services.key_account.accounts.schemas import AccountBatchGet, AccountBatchGetResult, AccountRead

router = APIRouter(
    prefix="/api/v1/accounts",
    tags=["accounts"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


@router.post(":batch-get", summary="Get many accounts in one call", response_model=AccountBatchGetResult)
async def batch_get_accounts(
    data: AccountBatchGet, session: DbSession, principal: CurrentPrincipal
) -> AccountBatchGetResult:
    """Each account as `GET /api/v1/accounts/{id}` answers it (explicit access or
    implicit sharing through a deal, with `access` saying which), in the order
    asked; ids that do not exist and ids you may not read come back alike in
    `not_found`."""
    accounts, missing = await service.read_many(session=session, principal=principal, account_ids=data.account_ids)
    access = await service.access(session=session, principal=principal, accounts=accounts)
    return AccountBatchGetResult(
        items=[AccountRead.model_validate(a).model_copy(update={"access": access.get(a.id)}) for a in accounts],
        not_found=missing,
    )
