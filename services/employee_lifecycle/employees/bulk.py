"""Bulk create/upsert of employees by external id (imports): every row is
checked on its own and reported; the valid ones are written set-based."""

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from services.employee_lifecycle.employees import repository
from services.employee_lifecycle.employees.schemas import EmployeeImport
from services.employee_lifecycle.employees.service import ADMIN_ROLES, employee_event
from services.employee_lifecycle.org_units.schemas import BulkReport, RowReport
from sanlun.kernel.events import publish_many


def _reject(i: int, external_id: Any, loc: list[Any], msg: str) -> RowReport:
    return RowReport(index=i, external_id=str(external_id) if external_id else None, status="rejected",
                     errors=[{"loc": loc, "msg": msg}])


async def bulk_upsert(*, session: AsyncSession, principal: Principal, items: list[dict[str, Any]]) -> BulkReport:
    require_roles(principal, *ADMIN_ROLES)
    reports: dict[int, RowReport] = {}
    valid: dict[int, EmployeeImport] = {}
    seen_ids: set[str] = set()
    seen_emails: set[str] = set()
    for i, raw in enumerate(items):
        try:
            row = EmployeeImport.model_validate(raw)
        except ValidationError as exc:
            reports[i] = RowReport(index=i, external_id=str(raw.get("external_id") or "") or None, status="rejected",
                                   errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()])
            continue
        if row.external_id in seen_ids:
            reports[i] = _reject(i, row.external_id, ["external_id"], "appears earlier in this batch")
        elif row.email in seen_emails:
            reports[i] = _reject(i, row.external_id, ["email"], "appears earlier in this batch")
        elif not can_see(principal, owner_id=None, org_unit_path=row.org_unit_path):
            reports[i] = _reject(i, row.external_id, ["org_unit_path"], "outside your organisation")
        else:
            valid[i] = row
        seen_ids.add(row.external_id)
        seen_emails.add(row.email)

    holders = await repository.by_emails(session, [r.email for r in valid.values()])
    managers_wanted = [r.manager_external_id for r in valid.values() if r.manager_external_id]
    existing_ids = await repository.ids_by_external_ids(session, managers_wanted)
    in_batch = {r.external_id for r in valid.values()}
    for i, row in list(valid.items()):
        if row.email in holders and holders[row.email] != row.external_id:
            reports[i] = _reject(i, row.external_id, ["email"], "already used by another employee")
        elif row.manager_external_id and row.manager_external_id not in existing_ids.keys() | in_batch:
            reports[i] = _reject(i, row.external_id, ["manager_external_id"], "no employee with this external id")
        elif row.manager_external_id == row.external_id:
            reports[i] = _reject(i, row.external_id, ["manager_external_id"], "an employee cannot manage themself")
        else:
            continue
        del valid[i]

    written = await repository.upsert_by_external_id(
        session, [r.model_dump(exclude={"manager_external_id"}) for r in valid.values()]
    )
    ids = {**await repository.ids_by_external_ids(session, [r.external_id for r in valid.values()] + managers_wanted)}
    manager_changed = await repository.set_managers(session, [
        (ids[r.external_id], ids.get(r.manager_external_id) if r.manager_external_id else None)
        for r in valid.values()
    ])
    for i, row in valid.items():
        emp_id = ids[row.external_id]
        if row.external_id in written:
            status = "created" if written[row.external_id][1] else "updated"
        else:
            status = "updated" if emp_id in manager_changed else "unchanged"
        reports[i] = RowReport(index=i, external_id=row.external_id, status=status, id=emp_id)

    changed = [reports[i].id for i in valid if reports[i].status != "unchanged"]
    employees = {e.id: e for e in await repository.by_ids(session, [c for c in changed if c])}
    await publish_many(session, [
        employee_event("employee.created" if reports[i].status == "created" else "employee.updated",
                       employees[reports[i].id])  # type: ignore[index]
        for i in sorted(valid) if reports[i].status != "unchanged"
    ])
    ordered = [reports[i] for i in sorted(reports)]
    return BulkReport(rows=ordered, **{s: sum(r.status == s for r in ordered)
                                       for s in ("created", "updated", "unchanged", "rejected")})
