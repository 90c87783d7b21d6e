"""Bulk create/upsert of employees by external id (imports): every row is
checked on its own and reported (the kernel's bulk contract, `sanlun.kernel.bulk`);
the valid ones are written set-based."""

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.events import publish_many
from services.employee_lifecycle.employees import repository
from services.employee_lifecycle.employees.schemas import (
    EmployeeBulkUpsert,
    EmployeeImport,
)
from services.employee_lifecycle.employees.service import ADMIN_ROLES, employee_event


async def bulk_upsert(*, session: AsyncSession, principal: Principal, request: EmployeeBulkUpsert) -> BulkReport:
    require_roles(principal, *ADMIN_ROLES)
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=EmployeeImport,
        upsert=lambda rows: _upsert(session, principal, rows),
    )


async def _upsert(
    session: AsyncSession, principal: Principal, rows: list[BulkRow[EmployeeImport]]
) -> list[BulkRowResult]:
    reports: dict[int, BulkRowResult] = {}
    valid: dict[int, BulkRow[EmployeeImport]] = {}
    seen_emails: set[str] = set()
    for r in rows:
        if r.data.email in seen_emails:
            reports[r.index] = r.failed("email", "appears earlier in this batch")
        elif not can_see(principal, owner_id=None, org_unit_path=r.data.org_unit_path):
            reports[r.index] = r.failed("org_unit_path", "outside your organisation")
        else:
            valid[r.index] = r
        seen_emails.add(r.data.email)

    holders = await repository.by_emails(session, [r.data.email for r in valid.values()])
    managers_wanted = [r.data.manager_external_id for r in valid.values() if r.data.manager_external_id]
    existing_ids = await repository.ids_by_external_ids(session, managers_wanted)
    in_batch = {r.external_id for r in valid.values()}
    for i, r in list(valid.items()):
        row = r.data
        if row.email in holders and holders[row.email] != row.external_id:
            reports[i] = r.failed("email", "already used by another employee")
        elif row.manager_external_id and row.manager_external_id not in existing_ids.keys() | in_batch:
            reports[i] = r.failed("manager_external_id", "no employee with this external id")
        elif row.manager_external_id == row.external_id:
            reports[i] = r.failed("manager_external_id", "an employee cannot manage themself")
        else:
            continue
        del valid[i]

    written = await repository.upsert_by_external_id(
        session, [r.data.model_dump(exclude={"manager_external_id"}) for r in valid.values()]
    )
    ids = {**await repository.ids_by_external_ids(session, [r.external_id for r in valid.values()] + managers_wanted)}
    manager_changed = await repository.set_managers(
        session,
        [
            (ids[r.external_id], ids.get(r.data.manager_external_id) if r.data.manager_external_id else None)
            for r in valid.values()
        ],
    )
    for i, r in valid.items():
        emp_id = ids[r.external_id]
        if r.external_id in written:
            reports[i] = r.created(emp_id) if written[r.external_id][1] else r.updated(emp_id)
        else:
            reports[i] = r.updated(emp_id) if emp_id in manager_changed else r.unchanged(emp_id)

    changed = [reports[i].id for i in valid if reports[i].status != "unchanged"]
    employees = {e.id: e for e in await repository.by_ids(session, [c for c in changed if c])}
    await publish_many(
        session,
        [
            employee_event(
                "employee.created" if reports[i].status == "created" else "employee.updated", employees[reports[i].id]
            )  # type: ignore[index]
            for i in sorted(valid)
            if reports[i].status != "unchanged"
        ],
    )
    return list(reports.values())
