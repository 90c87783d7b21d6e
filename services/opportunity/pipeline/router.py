"""Pipeline and forecast: counts, amounts and weighted amounts by stage and by close month."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep, check_as_of
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.routing import TransactionalRoute
from sanlun.kernel.types import Money
from services.opportunity.domain.stages import Stage
from services.opportunity.pipeline import repository

router = APIRouter(
    prefix="/api/v1/opportunities/pipeline",
    tags=["pipeline"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


class Bucket(BaseModel):
    stage: Stage | None = None
    month: dt.date | None = Field(
        None,
        description=(
            "First day of the close month: the expected close date of an open deal, the date a won or lost deal "
            "closed (`closed_on`)."
        ),
    )
    count: int
    amount: Money | None = Field(description="Sum of amounts in this currency (null for deals without one).")
    weighted_amount: Money | None = Field(description="Sum of amount × win probability (the stage default when unset).")
    open_count: int | None = Field(None, description="Month buckets: open deals expected to close in the month.")
    won_count: int | None = Field(None, description="Month buckets: deals won in the month.")
    lost_count: int | None = Field(None, description="Month buckets: deals lost in the month.")


class Pipeline(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "team",
                    "by_stage": [
                        {
                            "stage": "lead",
                            "count": 14,
                            "amount": {"amount": "2150000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "215000.00", "currency": "CNY"},
                        },
                        {
                            "stage": "proposal",
                            "count": 5,
                            "amount": {"amount": "1890000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "1134000.00", "currency": "CNY"},
                        },
                        {
                            "stage": "won",
                            "count": 9,
                            "amount": {"amount": "3420000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "3420000.00", "currency": "CNY"},
                        },
                    ],
                    "by_close_month": [
                        {
                            "month": "2026-11-01",
                            "count": 3,
                            "amount": {"amount": "560000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "380000.00", "currency": "CNY"},
                            "open_count": 0,
                            "won_count": 2,
                            "lost_count": 1,
                        },
                        {
                            "month": "2026-12-01",
                            "count": 7,
                            "amount": {"amount": "1260000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "684000.00", "currency": "CNY"},
                            "open_count": 7,
                            "won_count": 0,
                            "lost_count": 0,
                        },
                        {
                            "month": "2027-01-01",
                            "count": 4,
                            "amount": {"amount": "980000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "392000.00", "currency": "CNY"},
                            "open_count": 4,
                            "won_count": 0,
                            "lost_count": 0,
                        },
                    ],
                }
            ]
        }
    )

    scope: str
    by_stage: list[Bucket]
    by_close_month: list[Bucket]


def _money(amount: Decimal | None, currency: str | None) -> Money | None:
    return Money(amount=f"{amount:.2f}", currency=currency) if amount is not None and currency else None


@router.get(
    "",
    summary="Pipeline and forecast for me, my team or my organisation",
    response_model=Pipeline,
    responses=problem_responses(Unprocessable),
)
async def get_pipeline(
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
    scope: Annotated[
        Literal["me", "team", "organization"], Query(description="Whose deals (within what you may see).")
    ] = "me",
    months: Annotated[
        int, Query(ge=1, le=36, description="Close months from `as_of`'s month on (that month included).")
    ] = 12,
    months_back: Annotated[
        int, Query(ge=0, le=36, description="Close months before `as_of`'s month (deals won or lost then).")
    ] = 12,
    as_of: Annotated[dt.date | None, Query(description="The month the forecast turns on (default today).")] = None,
) -> Pipeline:
    """`by_close_month` places an open deal by its expected close date and a
    won or lost one by the date it closed, so past months show what was won
    and the coming ones what is expected (`weighted_amount`: won amounts plus
    open amounts × win probability)."""
    day = check_as_of(as_of) or clock.today()
    by_stage, by_month = await repository.pipeline(
        session, principal, scope=scope, months=months, months_back=months_back, as_of=day
    )
    return Pipeline(
        scope=scope,
        by_stage=[
            Bucket(
                stage=r.stage,
                count=r.n,
                amount=_money(r.amount, r.currency),
                weighted_amount=_money(r.weighted, r.currency),
            )
            for r in by_stage
        ],
        by_close_month=[
            Bucket(
                month=r.month,
                count=r.n,
                amount=_money(r.amount, r.currency),
                weighted_amount=_money(r.weighted, r.currency),
                open_count=r.open_n,
                won_count=r.won_n,
                lost_count=r.lost_n,
            )
            for r in by_month
        ],
    )
