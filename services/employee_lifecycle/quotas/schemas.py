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
    model_config = ConfigDict(extra="forbid")

    amount: Money


class QuotaRead(BaseModel):
    id: uuid.UUID
    employee_id: uuid.UUID
    period: str
    amount: Money
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
