"""Org unit use cases. Functions flush; the edge commits."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, require_roles
from sanlun.kernel.baselines import Merge
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish, publish_many
from services.employee_lifecycle.db import IMPORT_BASELINES
from services.employee_lifecycle.employees.service import employee_event, unknown_reference
from services.employee_lifecycle.org_units import repository
from services.employee_lifecycle.org_units.models import OrgUnit
from services.employee_lifecycle.org_units.schemas import (
    OrgUnitBulkUpsert,
    OrgUnitCreate,
    OrgUnitImport,
    OrgUnitUpdate,
)

ADMIN_ROLES = ("org_admin", "group_admin")


def _check_scope(principal: Principal, path: str) -> None:
    if not can_see(principal, owner_id=None, org_unit_path=path):
        raise Forbidden("You cannot place an org unit outside your organisation.")


async def get(*, session: AsyncSession, principal: Principal, unit_id: uuid.UUID) -> OrgUnit:
    unit = await repository.get_visible(session, principal, unit_id)
    if unit is None:
        raise NotFound(f"Org unit {unit_id} was not found.")
    return unit


async def _parent(
    session: AsyncSession, principal: Principal, parent_id: uuid.UUID | None, *, current: uuid.UUID | None = None
) -> OrgUnit | None:
    """The parent a body names: a unit the caller may see. One that does not
    exist and one they may not see get the same 422 (issue 16). The unit's
    current parent, named again, is not asked about."""
    if parent_id is None:
        return None
    if parent_id == current:
        return await repository.get(session, parent_id)
    parent = await repository.get_visible(session, principal, parent_id)
    if parent is None:
        raise unknown_reference(["body", "parent_id"], msg="no org unit with this id that you may see")
    return parent


async def create(*, session: AsyncSession, principal: Principal, data: OrgUnitCreate) -> OrgUnit:
    require_roles(principal, *ADMIN_ROLES)
    parent = await _parent(session, principal, data.parent_id)
    path = f"{parent.path if parent else ''}/{data.slug}"
    _check_scope(principal, path)
    if await repository.path_taken(session, path):
        raise Conflict(f"An org unit at {path} already exists.", errors=[{"loc": ["body", "slug"], "msg": "taken"}])
    unit = OrgUnit(**data.model_dump(), path=path, depth=path.count("/"))
    session.add(unit)
    await session.flush()
    return unit


async def update(*, session: AsyncSession, principal: Principal, unit: OrgUnit, data: OrgUnitUpdate) -> OrgUnit:
    require_roles(principal, *ADMIN_ROLES)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        unit.name = changes["name"]
        await session.flush()
    moving = "parent_id" in changes or ("slug" in changes and changes["slug"] is not None)
    if not moving:
        return unit
    parent = await _parent(session, principal, changes.get("parent_id", unit.parent_id), current=unit.parent_id)
    slug = changes.get("slug") or unit.slug
    old, new = unit.path, f"{parent.path if parent else ''}/{slug}"
    if new == old:
        return unit
    if parent is not None and (parent.path == old or parent.path.startswith(old + "/")):
        raise Unprocessable(
            "A unit cannot move below itself.",
            errors=[{"loc": ["body", "parent_id"], "msg": "is the unit itself or below it"}],
        )
    _check_scope(principal, new)
    if await repository.path_taken(session, new):
        raise Conflict(f"An org unit at {new} already exists.", errors=[{"loc": ["body", "slug"], "msg": "taken"}])
    unit.parent_id, unit.slug = (parent.id if parent else None), slug
    await session.flush()
    moved = await repository.move_subtree(session, old=old, new=new, depth_delta=new.count("/") - old.count("/"))
    await session.refresh(unit)
    await publish(
        session,
        Event(
            type="org_unit.moved",
            subject=str(unit.id),
            data={
                "id": str(unit.id),
                "previous_path": old,
                "path": new,
                "employees_moved": len(moved),
                "version": unit.version,
            },
        ),
    )
    await publish_many(session, [employee_event("employee.updated", e) for e in moved])
    return unit


async def bulk_upsert(*, session: AsyncSession, principal: Principal, request: OrgUnitBulkUpsert) -> BulkReport:
    """Create or rename units by external id, parents first; each row reported
    (the kernel's bulk contract). Moving a unit is done with PATCH (it rewrites
    paths below it)."""
    require_roles(principal, *ADMIN_ROLES)
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=OrgUnitImport,
        upsert=lambda rows: _upsert(session, principal, rows),
        merge=Merge("org_units", IMPORT_BASELINES, stored=lambda keys: _stored(session, principal, keys)),
    )


async def _stored(session: AsyncSession, principal: Principal, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The batch's units the caller may see, as bulk rows would say them (for a re-import's merge)."""
    return {
        u.external_id: {"slug": u.slug, "name": u.name, "parent_external_id": u.parent_external_id}
        for u in await repository.import_rows(session, keys)
        if u.path == principal.org_unit_path or can_see(principal, owner_id=None, org_unit_path=u.path)
    }


async def _upsert(
    session: AsyncSession, principal: Principal, rows: list[BulkRow[OrgUnitImport]]
) -> list[BulkRowResult]:
    reports: dict[int, BulkRowResult] = {}
    known = await repository.by_external_ids(
        session, [r.external_id for r in rows] + [r.data.parent_external_id for r in rows if r.data.parent_external_id]
    )
    # Units the caller may not see are unknown to them (issue 16): as a parent
    # "no such unit", as a row's own key taken by someone else's unit.
    hidden = {x for x, u in known.items() if not _visible(principal, u)}
    for x in hidden:
        del known[x]
    pending = {r.index: r for r in rows}
    for i, row in list(pending.items()):
        if row.external_id in hidden:
            reports[i] = row.failed("external_id", "already used by another unit")
            del pending[i]
    while pending:
        progressed = False
        for i, row in list(pending.items()):
            parent = row.data.parent_external_id
            if parent and parent not in known:
                if any(r.external_id == parent for r in pending.values()):
                    continue  # its parent comes later in this batch
                reports[i] = row.failed("parent_external_id", "no such unit")
            else:
                reports[i] = await _upsert_one(session, principal, row, known)
            del pending[i]
            progressed = True
        if not progressed:  # a cycle among the remaining rows
            for i, row in pending.items():
                reports[i] = row.failed("parent_external_id", "parents form a cycle")
            break
    return list(reports.values())


def _visible(principal: Principal, unit: OrgUnit) -> bool:
    # As `repository.visible`: one's own unit, and the units in one's reach.
    return unit.path == principal.org_unit_path or can_see(principal, owner_id=None, org_unit_path=unit.path)


async def _upsert_one(
    session: AsyncSession, principal: Principal, r: BulkRow[OrgUnitImport], known: dict[str, OrgUnit]
) -> BulkRowResult:
    row = r.data
    parent = known.get(row.parent_external_id) if row.parent_external_id else None
    path = f"{parent.path if parent else ''}/{row.slug}"
    existing = known.get(row.external_id)
    if not can_see(principal, owner_id=None, org_unit_path=path):
        return r.failed("parent_external_id", "outside your organisation")
    if existing is not None:
        if existing.path != path:
            return r.failed("parent_external_id", "moving a unit is done with PATCH", id=existing.id)
        if existing.name == row.name:
            return r.unchanged(existing.id)
        existing.name = row.name
        await session.flush()
        return r.updated(existing.id)
    if await repository.path_taken(session, path):
        return r.failed("slug", f"{path} is taken by another unit")
    unit = OrgUnit(
        external_id=row.external_id,
        slug=row.slug,
        name=row.name,
        parent_id=parent.id if parent else None,
        path=path,
        depth=path.count("/"),
    )
    session.add(unit)
    await session.flush()
    known[row.external_id] = unit
    return r.created(unit.id)
