"""All queries of the employees area."""

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.org_units.models import OrgUnit


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


async def visible_path(session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> str | None:
    """The org unit of an employee the caller may see; None when there is no such
    employee *or* the caller may not see them (one answer for both)."""
    stmt = sa.select(Employee.org_unit_path).where(Employee.id == employee_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


async def existing_unit_paths(session: AsyncSession, paths: Iterable[str]) -> set[str]:
    """The paths among `paths` that name an org unit (employees live only in existing units)."""
    wanted = list(set(paths))
    if not wanted:
        return set()
    return set((await session.execute(sa.select(OrgUnit.path).where(OrgUnit.path.in_(wanted)))).scalars())


async def manager_chains(session: AsyncSession, start: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    """id -> stored manager id of `start` and of everyone above them, in one
    recursive statement (UNION stops on a cycle already stored)."""
    ids = list(set(start))
    if not ids:
        return {}
    chain = sa.select(Employee.id, Employee.manager_id).where(Employee.id.in_(ids)).cte("chain", recursive=True)
    above = sa.select(Employee.id, Employee.manager_id).join(chain, Employee.id == chain.c.manager_id)
    chain = chain.union(above)
    return {r.id: r.manager_id for r in await session.execute(sa.select(chain.c.id, chain.c.manager_id))}


async def email_taken(session: AsyncSession, email: str, *, excluding: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(True)).where(Employee.email == email)
    if excluding is not None:
        stmt = stmt.where(Employee.id != excluding)
    return (await session.execute(stmt)).first() is not None


UPSERT_FIELDS = (
    "name",
    "email",
    "org_unit_path",
    "hire_date",
    "entered_sales_on",
    "capacity",
    "active",
    "skills",
    "industries",
    "regions",
)


async def by_emails(session: AsyncSession, emails: list[str]) -> dict[str, str | None]:
    """email -> external id of its current holder."""
    stmt = sa.select(Employee.email, Employee.external_id).where(Employee.email.in_(emails))
    return {r.email: r.external_id for r in (await session.execute(stmt))}


async def by_external_ids(session: AsyncSession, external_ids: Iterable[str]) -> dict[str, Any]:
    """external id -> (id, org_unit_path, manager_id) of the stored employees."""
    wanted = list(set(external_ids))
    if not wanted:
        return {}
    stmt = sa.select(Employee.external_id, Employee.id, Employee.org_unit_path, Employee.manager_id).where(
        Employee.external_id.in_(wanted)
    )
    return {r.external_id: r for r in await session.execute(stmt)}


async def ids_by_external_ids(session: AsyncSession, external_ids: list[str]) -> dict[str, uuid.UUID]:
    stmt = sa.select(Employee.external_id, Employee.id).where(Employee.external_id.in_(external_ids))
    return {r.external_id: r.id for r in (await session.execute(stmt))}


async def upsert_by_external_id(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, tuple[uuid.UUID, bool]]:
    """One INSERT ... ON CONFLICT for the batch; a row whose values are all
    unchanged is not touched (no version bump, no event). Returns
    external_id -> (id, created) for the rows written."""

    if not rows:
        return {}
    stmt = insert(Employee).values(rows)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[Employee.external_id],
        set_={
            **{f: getattr(ex, f) for f in UPSERT_FIELDS},
            "version": Employee.version + 1,
            "updated_at": sa.func.now(),
        },
        where=sa.tuple_(*[getattr(Employee, f) for f in UPSERT_FIELDS]).is_distinct_from(
            sa.tuple_(*[getattr(ex, f) for f in UPSERT_FIELDS])
        ),
    ).returning(Employee.external_id, Employee.id, Employee.version == 1)
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    return {r[0]: (r[1], bool(r[2])) for r in result.all()}


async def set_managers(session: AsyncSession, pairs: list[tuple[uuid.UUID, uuid.UUID | None]]) -> set[uuid.UUID]:
    """Set-based manager update; returns the ids whose manager changed."""
    if not pairs:
        return set()
    values = sa.values(sa.column("id", sa.Uuid), sa.column("manager_id", sa.Uuid), name="v").data(pairs)
    # Postgres types a VALUES column from its literals: when every manager is
    # null it would be text, and `uuid = text` fails. Say uuid.
    manager_id = sa.cast(values.c.manager_id, sa.Uuid)
    stmt = (
        sa.update(Employee)
        .where(Employee.id == values.c.id, Employee.manager_id.is_distinct_from(manager_id))
        .values(manager_id=manager_id, version=Employee.version + 1, updated_at=sa.func.now())
        .returning(Employee.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.execute(stmt)).scalars())


async def by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Employee]:
    stmt = sa.select(Employee).where(Employee.id.in_(ids)).execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars())


async def import_rows(session: AsyncSession, external_ids: list[str]) -> list[Any]:
    """The stored employees of a bulk batch as its rows say them (their manager by
    external id), with their id for the caller's visibility: one statement."""
    manager = aliased(Employee)
    stmt = (
        sa.select(
            Employee.id,
            Employee.external_id,
            *(getattr(Employee, f) for f in UPSERT_FIELDS),
            manager.external_id.label("manager_external_id"),
        )
        .outerjoin(manager, manager.id == Employee.manager_id)
        .where(Employee.external_id.in_(external_ids))
    )
    return list(await session.execute(stmt))
