"""All queries of the policies area: the stored versions of each organisation's stage policy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, visibility_clause
from services.employee_lifecycle.org_units.models import OrgUnit
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


async def organisation_unit_visible(session: AsyncSession, principal: Principal, path: str) -> bool:
    """An org unit at `path` exists and the caller may see it."""
    stmt = sa.select(sa.literal(True)).where(
        OrgUnit.path == path,
        sa.or_(
            OrgUnit.path == principal.org_unit_path,
            visibility_clause(principal, owner_column=sa.null(), org_unit_column=OrgUnit.path),
        ),
    )
    return (await session.execute(stmt)).first() is not None


async def get_policy(session: AsyncSession, policy_id: uuid.UUID) -> StagePolicy | None:
    return await session.get(StagePolicy, policy_id)


def readable(principal: Principal, own_candidates: Sequence[str]) -> sa.ColumnElement[bool]:
    """The policies a caller may read: those that can apply to them
    (`own_candidates`: their organisation's and the group's), and those of
    the organisations in their reach (an org admin's or integrator's
    organisation, a manager's unit and below, a group admin's everything)."""
    return sa.or_(
        StagePolicy.organization_path.in_(list(own_candidates)),
        visibility_clause(principal, owner_column=sa.null(), org_unit_column=StagePolicy.organization_path),
    )


def policies_statement(organization_path: str | None, *, visible: sa.ColumnElement[bool]) -> sa.Select[Any]:
    stmt = sa.select(StagePolicy).where(visible)
    if organization_path:
        stmt = stmt.where(StagePolicy.organization_path == organization_path)
    return stmt
