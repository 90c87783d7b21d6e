"""All queries of the policies area: the stored versions of each organisation's stage policy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.employee_lifecycle.policies.models import StagePolicy


async def latest_policies(session: AsyncSession, organization_paths: Sequence[str]) -> dict[str, StagePolicy]:
    stmt = (
        sa.select(StagePolicy)
        .where(StagePolicy.organization_path.in_(list(set(organization_paths))))
        .ext(distinct_on(StagePolicy.organization_path))
        .order_by(StagePolicy.organization_path, StagePolicy.version.desc())
    )
    return {p.organization_path: p for p in (await session.execute(stmt)).scalars()}


async def next_policy_version(session: AsyncSession, organization_path: str) -> int:
    # Two admins publishing at once: the unique (organization_path, version) refuses the second.
    stmt = sa.select(sa.func.coalesce(sa.func.max(StagePolicy.version), 0) + 1).where(
        StagePolicy.organization_path == organization_path
    )
    return int((await session.execute(stmt)).scalar_one())


async def get_policy(session: AsyncSession, policy_id: uuid.UUID) -> StagePolicy | None:
    return await session.get(StagePolicy, policy_id)


def policies_statement(organization_path: str | None, *, visible_to: Sequence[str] | None = None) -> sa.Select[Any]:
    """`visible_to`: the organisation paths the caller may read (None: all)."""
    stmt = sa.select(StagePolicy)
    if visible_to is not None:
        stmt = stmt.where(StagePolicy.organization_path.in_(list(visible_to)))
    if organization_path:
        stmt = stmt.where(StagePolicy.organization_path == organization_path)
    return stmt
