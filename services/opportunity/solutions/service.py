"""Solution catalogue use cases. Functions flush; the edge commits.

Each organisation curates its own catalogue and list prices (`organization_path`);
the group root's entries are the group-wide ones. Names, and the keys bulk
imports match by, are unique within a catalogue, so an import for one
organisation never changes another's solution or price."""

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, organization_of, require_roles
from sanlun.kernel.baselines import Merge, canonical
from sanlun.kernel.bulk import BulkReport, BulkRow, BulkRowResult, run_bulk_upsert
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.opportunity.db import IMPORT_BASELINES
from services.opportunity.solutions import repository
from services.opportunity.solutions.models import Solution
from services.opportunity.solutions.schemas import SolutionBulkUpsert, SolutionCreate, SolutionImport, SolutionUpdate

CURATOR_ROLES = ("org_admin", "group_admin")
NULLABLE = frozenset({"family", "list_price"})


def _catalogue(principal: Principal, requested: str | None) -> str:
    """The organisation whose catalogue a write goes to: the caller's, or (group admins) the one named."""
    organisation = organization_of(requested) if requested else principal.organization_path
    if organisation != principal.organization_path and not principal.has("group_admin"):
        raise Forbidden(
            "You curate your own organisation's catalogue only.",
            errors=[{"loc": ["body", "organization_path"], "msg": "not your organisation"}],
        )
    return organisation


async def _check_name(
    session: AsyncSession, organisation: str, name: str, *, excluding: uuid.UUID | None = None
) -> None:
    if await repository.name_taken(session, organisation, name, excluding=excluding):
        raise Conflict(
            f"A solution named {name!r} already exists in this catalogue.",
            errors=[{"loc": ["body", "name"], "msg": "already in use"}],
        )


async def get(*, session: AsyncSession, principal: Principal, solution_id: uuid.UUID) -> Solution:
    """A solution of the caller's organisation's catalogue or the group's (any, for a group admin);
    another organisation's answers 404, as one that does not exist."""
    solution = await repository.get_visible(session, principal, solution_id)
    if solution is None:
        raise NotFound(f"Solution {solution_id} was not found.")
    return solution


async def create(*, session: AsyncSession, principal: Principal, data: SolutionCreate) -> Solution:
    require_roles(principal, *CURATOR_ROLES)
    organisation = _catalogue(principal, data.organization_path)
    await _check_name(session, organisation, data.name)
    solution = Solution(
        **data.model_dump(exclude={"list_price", "organization_path"}),
        organization_path=organisation,
        list_price=data.list_price.value() if data.list_price else None,
    )
    session.add(solution)
    await session.flush()
    return solution


async def update(*, session: AsyncSession, principal: Principal, solution: Solution, data: SolutionUpdate) -> Solution:
    require_roles(principal, *CURATOR_ROLES)
    _catalogue(principal, solution.organization_path)
    changes = data.model_dump(exclude_unset=True, exclude={"list_price"})
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    if changes.get("name"):
        await _check_name(session, solution.organization_path, changes["name"], excluding=solution.id)
    for field, value in changes.items():
        setattr(solution, field, value)
    if "list_price" in data.model_fields_set:
        solution.list_price = data.list_price.value() if data.list_price else None
    await session.flush()
    return solution


async def bulk_upsert(*, session: AsyncSession, principal: Principal, request: SolutionBulkUpsert) -> BulkReport:
    """Create or update one organisation's solutions by `external_id` (the
    kernel's bulk contract): matched by key in that catalogue, else by name (a
    solution made one by one gets the key). Set-based: one read, one INSERT,
    one UPDATE. With a `source`, merged with that source's last import."""
    require_roles(principal, *CURATOR_ROLES)
    organisation = _catalogue(principal, request.organization_path)
    names = {
        r["external_id"].strip(): r.get("name")
        for r in request.items
        if isinstance(r, dict) and isinstance(r.get("external_id"), str) and isinstance(r.get("name"), str)
    }
    return await run_bulk_upsert(
        session=session,
        request=request,
        row_model=SolutionImport,
        upsert=lambda rows: _upsert(session, organisation, rows),
        merge=Merge(
            f"solutions:{organisation}"[:100],
            IMPORT_BASELINES,
            stored=lambda keys: _stored(session, organisation, keys, names),
        ),
    )


def _form(s: Any) -> dict[str, Any]:
    """A stored solution as a bulk row says it."""
    price = {"amount": s.list_price, "currency": s.currency} if s.list_price is not None else None
    return canonical(
        {
            "name": s.name,
            "family": s.family,
            "industries": s.industries,
            "size_bands": s.size_bands,
            "list_price": price,
            "presales_support_usual": s.presales_support_usual,
            "active": s.active,
        }
    )


def _matches(stored: list[Any], key: str, name: str | None) -> Any:
    by_key = next((s for s in stored if s.external_id == key), None)
    return by_key or next((s for s in stored if s.external_id is None and s.name == name), None)


async def _stored(
    session: AsyncSession, organisation: str, keys: list[str], names: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    stored = await repository.for_import(session, organisation, keys, [n for n in names.values() if n])
    matched = {key: _matches(stored, key, names.get(key)) for key in keys}
    return {key: _form(s) for key, s in matched.items() if s is not None}


async def _upsert(session: AsyncSession, organisation: str, rows: list[BulkRow[SolutionImport]]) -> list[BulkRowResult]:
    stored = await repository.for_import(
        session, organisation, [r.external_id for r in rows], [r.data.name for r in rows]
    )
    results: list[BulkRowResult] = []
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    names: set[str] = set()
    for row in rows:
        data = row.data
        current = _matches(stored, row.external_id, data.name)
        holder = next((s for s in stored if s.name == data.name and (current is None or s.id != current.id)), None)
        if data.name in names or holder is not None:
            where = "earlier in this batch" if data.name in names else "by another solution of this catalogue"
            results.append(row.failed("name", f"already in use {where}", "duplicate"))
            continue
        names.add(data.name)
        values = {
            "id": current.id if current is not None else uuid.uuid4(),
            "external_id": row.external_id,
            "name": data.name,
            "family": data.family,
            "industries": list(data.industries),
            "size_bands": list(data.size_bands),
            "list_price": data.list_price.amount if data.list_price else None,
            "currency": data.list_price.currency if data.list_price else None,
            "presales_support_usual": data.presales_support_usual,
            "active": data.active,
        }
        if current is None:
            creates.append(values)
            results.append(row.created(values["id"]))
        elif _same(current, values):
            results.append(row.unchanged(current.id))
        else:
            updates.append(values)
            results.append(row.updated(current.id))
    await repository.insert_many(session, organisation, creates)
    await repository.update_many(session, organisation, updates)
    return results


def _same(current: Any, values: dict[str, Any]) -> bool:
    price: Decimal | None = values["list_price"]
    return (
        current.external_id == values["external_id"]
        and all(getattr(current, k) == values[k] for k in ("name", "family", "currency", "presales_support_usual"))
        and list(current.industries) == values["industries"]
        and list(current.size_bands) == values["size_bands"]
        and current.list_price == price
        and current.active == values["active"]
    )
