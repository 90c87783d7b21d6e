import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import check_as_of
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.routing import TransactionalRoute
from services.employee_lifecycle.signals import service
from services.employee_lifecycle.signals.schemas import BackfillResult, BackfillWrite, SignalsRead

router = APIRouter(
    prefix="/api/v1/employees",
    tags=["signals"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


@router.post(
    "/facts:backfill",
    summary="Back-fill historical facts (idempotent by external_id)",
    response_model=BackfillResult,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def backfill_facts(data: BackfillWrite, session: DbSession, principal: CurrentPrincipal) -> BackfillResult:
    """Up to 2000 facts per call (the body limit is 1 MB), into the same table events feed. A fact whose
    external_id is already known is skipped, so a retried import is harmless."""
    received, inserted = await service.backfill(session=session, principal=principal, data=data)
    return BackfillResult(received=received, inserted=inserted, duplicates=received - inserted)


@router.get(
    "/{employee_id}/signals",
    summary="An employee's signals as of a day",
    response_model=SignalsRead,
    responses=problem_responses(NotFound, Unprocessable),
)
async def get_signals(
    employee_id: Annotated[uuid.UUID, Path(description="The employee's id.")],
    session: DbSession,
    principal: CurrentPrincipal,
    as_of: Annotated[
        dt.date | None,
        Query(description="The day (default today, by the service's clock); history works. 1900-01-01 to 2199-12-31."),
    ] = None,
) -> SignalsRead:
    check_as_of(as_of, "as_of")
    as_of, currency, signals = await service.signals_of(
        session=session, principal=principal, employee_id=employee_id, as_of=as_of
    )
    return SignalsRead(employee_id=employee_id, as_of=as_of, currency=currency, signals=signals)
