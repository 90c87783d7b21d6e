"""Bulk create/upsert of employees by external id (imports): every row is
checked on its own and reported (the kernel's bulk contract, `sanlun.kernel.bulk`);
the valid ones are written set-based."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.baselines import Merge, canonical
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.events import publish_many
from services.employee_lifecycle.db import IMPORT_BASELINES
from services.employee_lifecycle.employees import repository
from services.employee_lifecycle.employees.schemas import (
    EmployeeBulkUpsert,
    EmployeeImport,
)
from services.employee_lifecycle.employees.service import (
    ADMIN_ROLES,
    CROSS_ORGANISATION,
    CROSS_ORGANISATION_MSG,
    MANAGER_CYCLE,
    NO_SUCH_EMPLOYEE_EXTERNAL,
    NO_SUCH_UNIT,
    UNKNOWN_REFERENCE,
    employee_event,
    may_cross_organisations,
    organisation_of,
)


async def bulk_upsert(*, session: AsyncSession, principal: Principal, request: EmployeeBulkUpsert) -> BulkReport:
    require_roles(principal, *ADMIN_ROLES)
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=EmployeeImport,
        upsert=lambda rows: _upsert(session, principal, rows),
        merge=Merge("employees", IMPORT_BASELINES, stored=lambda keys: _stored(session, principal, keys)),
    )


async def _stored(session: AsyncSession, principal: Principal, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The batch's employees the caller may see, as bulk rows would say them (for a re-import's merge)."""
    return {
        e.external_id: canonical({f: getattr(e, f) for f in (*repository.UPSERT_FIELDS, "manager_external_id")})
        for e in await repository.import_rows(session, keys)
        if can_see(principal, owner_id=e.id, org_unit_path=e.org_unit_path)
    }


Node = str | uuid.UUID  # a row of the batch by its external id, or a stored employee by id


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
            reports[r.index] = r.failed("org_unit_path", NO_SUCH_UNIT, UNKNOWN_REFERENCE)
        else:
            valid[r.index] = r
        seen_emails.add(r.data.email)

    # One statement each, whatever the batch size.
    units = await repository.existing_unit_paths(session, [r.data.org_unit_path for r in valid.values()])
    holders = await repository.by_emails(session, [r.data.email for r in valid.values()])
    managers_wanted = [r.data.manager_external_id for r in valid.values() if r.data.manager_external_id]
    stored = await repository.by_external_ids(session, [r.external_id for r in rows] + managers_wanted)
    chains = await repository.manager_chains(session, [e.id for e in stored.values()])

    def visible(external_id: str) -> bool:
        e = stored.get(external_id)
        return e is not None and can_see(principal, owner_id=e.id, org_unit_path=e.org_unit_path)

    for i, r in list(valid.items()):
        row = r.data
        if r.external_id in stored and not visible(r.external_id):
            # The key is taken by someone the caller may not see: never overwrite them.
            reports[i] = r.failed("external_id", "already used by another employee")
        elif row.org_unit_path not in units:
            reports[i] = r.failed("org_unit_path", NO_SUCH_UNIT, UNKNOWN_REFERENCE)
        elif row.email in holders and holders[row.email] != row.external_id:
            reports[i] = r.failed("email", "already used by another employee")
        elif row.manager_external_id == row.external_id:
            reports[i] = r.failed("manager_external_id", "an employee cannot manage themself", MANAGER_CYCLE)
        else:
            continue
        del valid[i]

    # Managers and cycles: a failed row keeps its stored values (if any), which
    # may close a cycle or leave a report without its manager, so go again
    # until no row fails.
    index_of = {r.external_id: r.index for r in rows}
    while failed := _manager_problems(principal, valid, stored, chains, index_of):
        for i, result in failed.items():
            reports[i] = result
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


def _manager_problems(
    principal: Principal,
    valid: dict[int, BulkRow[EmployeeImport]],
    stored: dict[str, Any],
    chains: dict[uuid.UUID, uuid.UUID | None],
    index_of: dict[str, int],
) -> dict[int, BulkRowResult]:
    """The rows whose manager the caller may not see (or is missing, or in
    another organisation), then the rows on a cycle of the reporting lines
    the batch would leave (with the stored ones)."""
    batch = {r.external_id: r for r in valid.values()}
    failed: dict[int, BulkRowResult] = {}
    for i, r in valid.items():
        manager = r.data.manager_external_id
        if not manager:
            continue
        if manager in batch:
            manager_path = batch[manager].data.org_unit_path
        elif manager in stored and can_see(
            principal, owner_id=stored[manager].id, org_unit_path=stored[manager].org_unit_path
        ):
            manager_path = stored[manager].org_unit_path
        elif manager in index_of:
            failed[i] = r.failed("manager_external_id", f"the manager's row ({index_of[manager]}) failed")
            continue
        else:
            failed[i] = r.failed("manager_external_id", NO_SUCH_EMPLOYEE_EXTERNAL, UNKNOWN_REFERENCE)
            continue
        if organisation_of(manager_path) != organisation_of(r.data.org_unit_path) and not may_cross_organisations(
            principal
        ):
            failed[i] = r.failed("manager_external_id", CROSS_ORGANISATION_MSG, CROSS_ORGANISATION)
    if failed:
        return failed

    # The reporting lines after the batch: a row's own, else the stored one.
    in_batch = {stored[x].id: x for x in batch if x in stored}

    def node(employee_id: uuid.UUID | None) -> Node | None:
        return None if employee_id is None else in_batch.get(employee_id, employee_id)

    def manager_of(n: Node) -> Node | None:
        if isinstance(n, str):
            m = batch[n].data.manager_external_id
            return None if not m else (m if m in batch else node(stored[m].id))
        return node(chains.get(n))

    for r in valid.values():
        seen: dict[Node, None] = {}  # ordered, and a quick `in`
        n: Node | None = r.external_id
        while n is not None and n not in seen:
            seen[n] = None
            n = manager_of(n)
        if n == r.external_id:
            on_cycle = sorted(batch[x].index for x in seen if isinstance(x, str))
            failed[r.index] = r.failed(
                "manager_external_id",
                f"the reporting lines of rows {', '.join(map(str, on_cycle))} form a cycle",
                MANAGER_CYCLE,
            )
    return failed
