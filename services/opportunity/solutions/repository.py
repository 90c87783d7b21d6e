"""All queries of the solutions area. The catalogue is group-wide: no visibility filter."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.opportunity.solutions.models import Solution


def list_statement(
    *,
    active: bool | None = None,
    family: str | None = None,
    industry: str | None = None,
    size_band: str | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Solution)
    if active is not None:
        stmt = stmt.where(Solution.active.is_(active))
    if family:
        stmt = stmt.where(Solution.family == family)
    if industry:
        stmt = stmt.where(Solution.industries.contains([industry]))
    if size_band:
        stmt = stmt.where(Solution.size_bands.contains([size_band]))
    return stmt


async def get(session: AsyncSession, solution_id: uuid.UUID) -> Solution | None:
    return await session.get(Solution, solution_id)


async def name_taken(session: AsyncSession, name: str, *, excluding: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(True)).where(Solution.name == name)
    if excluding is not None:
        stmt = stmt.where(Solution.id != excluding)
    return (await session.execute(stmt)).first() is not None
