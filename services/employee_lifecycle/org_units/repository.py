"""All queries of the org units area."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.org_units.models import OrgUnit


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    # Everyone sees their own unit; managers and admins their scope below it.
    return sa.or_(
        OrgUnit.path == principal.org_unit_path,
        visibility_clause(principal, owner_column=sa.null(), org_unit_column=OrgUnit.path),
    )


def list_statement(principal: Principal, *, within: str | None, parent_id: uuid.UUID | None) -> sa.Select[Any]:
    stmt = sa.select(OrgUnit).where(visible(principal))
    if within:
        stmt = stmt.where(path_within(OrgUnit.path, within))
    if parent_id:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, unit_id: uuid.UUID) -> OrgUnit | None:
    stmt = sa.select(OrgUnit).where(OrgUnit.id == unit_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, unit_id: uuid.UUID) -> OrgUnit | None:
    return await session.get(OrgUnit, unit_id)


async def path_taken(session: AsyncSession, path: str) -> bool:
    return (await session.execute(sa.select(sa.literal(True)).where(OrgUnit.path == path))).first() is not None


async def by_external_ids(session: AsyncSession, external_ids: list[str]) -> dict[str, OrgUnit]:
    stmt = sa.select(OrgUnit).where(OrgUnit.external_id.in_(external_ids))
    return {u.external_id: u for u in (await session.execute(stmt)).scalars() if u.external_id}


def _rebased(column: Any, old: str, new: str) -> Any:
    return sa.literal(new) + sa.func.substr(column, len(old) + 1)


async def move_subtree(session: AsyncSession, *, old: str, new: str, depth_delta: int) -> list[Any]:
    """Rewrite the paths of every unit and employee at or below `old`, set-based.
    Returns the moved employees (for their events)."""
    await session.execute(
        sa.update(OrgUnit)
        .where(path_within(OrgUnit.path, old))
        .values(
            path=_rebased(OrgUnit.path, old, new),
            depth=OrgUnit.depth + depth_delta,
            version=OrgUnit.version + 1,
            updated_at=sa.func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        sa.update(Employee)
        .where(path_within(Employee.org_unit_path, old))
        .values(
            org_unit_path=_rebased(Employee.org_unit_path, old, new),
            version=Employee.version + 1,
            updated_at=sa.func.now(),
        )
        .returning(
            Employee.id,
            Employee.name,
            Employee.email,
            Employee.org_unit_path,
            Employee.manager_id,
            Employee.capacity,
            Employee.active,
            Employee.version,
        )
        .execution_options(synchronize_session=False)
    )
    return list(result.all())


async def import_rows(session: AsyncSession, external_ids: list[str]) -> list[Any]:
    """The stored units of a bulk batch as its rows say them (the parent by external
    id), with their path for the caller's visibility: one statement."""
    parent = aliased(OrgUnit)
    stmt = (
        sa.select(
            OrgUnit.external_id,
            OrgUnit.path,
            OrgUnit.slug,
            OrgUnit.name,
            parent.external_id.label("parent_external_id"),
        )
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(OrgUnit.external_id.in_(external_ids))
    )
    return list(await session.execute(stmt))
