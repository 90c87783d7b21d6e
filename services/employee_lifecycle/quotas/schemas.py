import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.employee_lifecycle.signals.schemas import Money

Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-Q[1-4]$")]


def period_start(period: str) -> dt.date:
    year, q = period.split("-Q")
    return dt.date(int(year), 3 * (int(q) - 1) + 1, 1)


def period_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


class QuotaWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"amount": {"amount": "1200000.00", "currency": "CNY"}},
            ]
        },
    )

    amount: Money


class QuotaRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7f8091a2-b3c4-4d5e-8f6a-7b8c9d0e1f2a",
                    "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
                    "period": "2027-Q1",
                    "amount": {"amount": "1200000.00", "currency": "CNY"},
                    "created_at": "2026-11-20T02:30:00Z",
                    "updated_at": "2026-11-20T02:30:00Z",
                    "version": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    employee_id: uuid.UUID
    period: str
    amount: Money
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
