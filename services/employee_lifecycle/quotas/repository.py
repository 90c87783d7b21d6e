"""All queries of the quotas area."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.employee_lifecycle.quotas.models import Quota


def list_statement(employee_id: uuid.UUID) -> sa.Select[Any]:
    return sa.select(Quota).where(Quota.employee_id == employee_id)


async def get(session: AsyncSession, employee_id: uuid.UUID, period_start: dt.date) -> Quota | None:
    stmt = sa.select(Quota).where(Quota.employee_id == employee_id, Quota.period_start == period_start)
    return (await session.execute(stmt)).scalar_one_or_none()
