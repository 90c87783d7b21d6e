"""Pipeline and forecast: counts, amounts and weighted amounts by stage and by close month."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from sanlun.kernel.auth import CurrentPrincipal
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
    month: dt.date | None = Field(None, description="First day of the expected close month.")
    count: int
    amount: Money | None = Field(description="Sum of amounts in this currency (null for deals without one).")
    weighted_amount: Money | None = Field(description="Sum of amount × win probability (the stage default when unset).")


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
                            "month": "2026-12-01",
                            "count": 7,
                            "amount": {"amount": "1260000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "684000.00", "currency": "CNY"},
                        },
                        {
                            "month": "2027-01-01",
                            "count": 4,
                            "amount": {"amount": "980000.00", "currency": "CNY"},
                            "weighted_amount": {"amount": "392000.00", "currency": "CNY"},
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
    scope: Annotated[
        Literal["me", "team", "organization"], Query(description="Whose deals (within what you may see).")
    ] = "me",
    months: Annotated[int, Query(ge=1, le=36, description="Close months from this month on in the forecast.")] = 12,
) -> Pipeline:
    by_stage, by_month = await repository.pipeline(session, principal, scope=scope, months=months)
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
            )
            for r in by_month
        ],
    )
