"""All queries of the solutions area. Each organisation has its own catalogue
(`organization_path`); the group root's entries are everyone's."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, organization_of
from services.opportunity.solutions.models import Solution


def group_of(path: str) -> str:
    """The root of the org tree a path is in (`/group`): the group-wide catalogue's organisation."""
    parts = [p for p in path.split("/") if p]
    return "/" + parts[0] if parts else "/"


def catalogues(org_unit_path: str) -> list[str]:
    """The catalogues an org unit uses (its people list them, its deals name and
    are recommended their solutions): its organisation's and the group's."""
    return sorted({organization_of(org_unit_path), group_of(org_unit_path)})


def usable_by(org_unit_path: str) -> sa.ColumnElement[bool]:
    return Solution.organization_path.in_(catalogues(org_unit_path))


def listed(principal: Principal) -> sa.ColumnElement[bool]:
    """The catalogue a caller lists: their organisation's and the group's; a group admin's, every one."""
    if principal.has("group_admin"):
        return sa.true()
    return usable_by(principal.org_unit_path)


def readable(principal: Principal, solution: Solution) -> bool:
    """`listed` for a solution already loaded: another organisation's answers 404."""
    return principal.has("group_admin") or solution.organization_path in catalogues(principal.org_unit_path)


def list_statement(
    principal: Principal,
    *,
    active: bool | None = None,
    family: str | None = None,
    industry: str | None = None,
    size_band: str | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Solution).where(listed(principal))
    if active is not None:
        stmt = stmt.where(Solution.active.is_(active))
    if family:
        stmt = stmt.where(Solution.family == family)
    if industry:
        stmt = stmt.where(Solution.industries.contains([industry]))
    if size_band:
        stmt = stmt.where(Solution.size_bands.contains([size_band]))
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, solution_id: uuid.UUID) -> Solution | None:
    solution = await session.get(Solution, solution_id)
    return solution if solution is not None and readable(principal, solution) else None


async def catalogues_of(session: AsyncSession, solution_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The catalogue (`organization_path`) of each of these solutions that exists: one statement."""
    wanted = list(set(solution_ids))
    if not wanted:
        return {}
    stmt = sa.select(Solution.id, Solution.organization_path).where(Solution.id.in_(wanted))
    return {row.id: row.organization_path for row in await session.execute(stmt)}


async def name_taken(
    session: AsyncSession, organization_path: str, name: str, *, excluding: uuid.UUID | None = None
) -> bool:
    stmt = sa.select(sa.literal(True)).where(Solution.organization_path == organization_path, Solution.name == name)
    if excluding is not None:
        stmt = stmt.where(Solution.id != excluding)
    return (await session.execute(stmt)).first() is not None


# -- bulk writes: one statement per batch ------------------------------------------------------

IMPORT_COLUMNS = (
    "name",
    "family",
    "industries",
    "size_bands",
    "list_price",
    "currency",
    "presales_support_usual",
    "active",
)


async def for_import(
    session: AsyncSession, organization_path: str, external_ids: Sequence[str], names: Sequence[str]
) -> list[Any]:
    """An organisation's solutions a bulk batch names, by import key or by name
    (a solution made one by one, before it was imported, has no key yet)."""
    stmt = (
        sa.select(Solution.id, Solution.external_id, *(sa.column(c) for c in IMPORT_COLUMNS), Solution.version)
        .select_from(Solution)
        .where(
            Solution.organization_path == organization_path,
            sa.or_(
                Solution.external_id.in_(list(external_ids)),
                sa.and_(Solution.external_id.is_(None), Solution.name.in_(list(names))),
            ),
        )
    )
    return list(await session.execute(stmt))


_SOLUTIONS = Solution.__table__.fullname  # type: ignore[attr-defined]
_UNNEST = (
    "unnest(CAST(:ids AS uuid[]), CAST(:keys AS text[]), CAST(:names AS text[]), CAST(:families AS text[]), "
    "CAST(:industries AS text[]), CAST(:bands AS text[]), CAST(:prices AS numeric[]), CAST(:currencies AS text[]), "
    "CAST(:presales AS boolean[]), CAST(:actives AS boolean[])) "
    "AS v(id, external_id, name, family, industries, size_bands, list_price, currency, presales, active)"
)
# The statements are put together from this module's constants; values are bound.
_INSERT = sa.text(
    f"INSERT INTO {_SOLUTIONS} (id, organization_path, external_id, name, family, industries, size_bands, "  # noqa: S608
    "list_price, currency, presales_support_usual, active, created_at, updated_at, version) "
    "SELECT v.id, :org, v.external_id, v.name, v.family, CAST(v.industries AS varchar(100)[]), "
    "CAST(v.size_bands AS varchar(50)[]), v.list_price, v.currency, v.presales, v.active, now(), now(), 1 "
    f"FROM {_UNNEST}"
)
_UPDATE = sa.text(
    f"UPDATE {_SOLUTIONS} AS s SET external_id = v.external_id, name = v.name, family = v.family, "  # noqa: S608
    "industries = CAST(v.industries AS varchar(100)[]), size_bands = CAST(v.size_bands AS varchar(50)[]), "
    "list_price = v.list_price, currency = v.currency, presales_support_usual = v.presales, active = v.active, "
    f"updated_at = now(), version = s.version + 1 FROM {_UNNEST} WHERE s.id = v.id AND s.organization_path = :org"
)


def _text_array(values: Sequence[str]) -> str:
    """A text[] literal (tag lists travel as one: unnest cannot take arrays of different lengths)."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _columns(organization_path: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "org": organization_path,
        "ids": [r["id"] for r in rows],
        "keys": [r["external_id"] for r in rows],
        "names": [r["name"] for r in rows],
        "families": [r["family"] for r in rows],
        "industries": [_text_array(r["industries"]) for r in rows],
        "bands": [_text_array(r["size_bands"]) for r in rows],
        "prices": [r["list_price"] for r in rows],
        "currencies": [r["currency"] for r in rows],
        "presales": [r["presales_support_usual"] for r in rows],
        "actives": [r["active"] for r in rows],
    }


async def insert_many(session: AsyncSession, organization_path: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_INSERT, _columns(organization_path, rows))


async def update_many(session: AsyncSession, organization_path: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_UPDATE, _columns(organization_path, rows))
