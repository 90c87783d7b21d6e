"""All queries of the plans area that are more than a get by key."""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.opportunity.plans.models import TasPlan


async def by_opportunity_ids(session: AsyncSession, opportunity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TasPlan]:
    """The stored plans of many opportunities in one query (those without one are absent)."""
    if not opportunity_ids:
        return {}
    stmt = sa.select(TasPlan).where(TasPlan.opportunity_id.in_(list(set(opportunity_ids))))
    return {p.opportunity_id: p for p in (await session.execute(stmt)).scalars()}
