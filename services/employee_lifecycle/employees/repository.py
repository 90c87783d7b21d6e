"""All queries of the employees area."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.employee_lifecycle.employees.models import Employee


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    # An employee record is "owned" by the employee it describes.
    return visibility_clause(principal, owner_column=Employee.id, org_unit_column=Employee.org_unit_path)


def list_statement(
    principal: Principal, *, org_unit: str | None = None, active: bool | None = None, email: str | None = None
) -> sa.Select[Any]:
    stmt = sa.select(Employee).where(visible(principal))
    if org_unit:
        stmt = stmt.where(path_within(Employee.org_unit_path, org_unit))
    if active is not None:
        stmt = stmt.where(Employee.active.is_(active))
    if email:
        stmt = stmt.where(Employee.email == email.lower())
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> Employee | None:
    stmt = sa.select(Employee).where(Employee.id == employee_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


async def exists(session: AsyncSession, employee_id: uuid.UUID) -> bool:
    return (await session.execute(sa.select(sa.literal(True)).where(Employee.id == employee_id))).first() is not None


async def email_taken(session: AsyncSession, email: str, *, excluding: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(True)).where(Employee.email == email)
    if excluding is not None:
        stmt = stmt.where(Employee.id != excluding)
    return (await session.execute(stmt)).first() is not None
