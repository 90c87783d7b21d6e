"""All queries of the opportunities area."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.stages import Stage


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    return visibility_clause(principal, owner_column=Opportunity.owner_id, org_unit_column=Opportunity.org_unit_path)


def list_statement(
    principal: Principal,
    *,
    owner_id: uuid.UUID | None = None,
    unassigned: bool | None = None,
    stages: Sequence[Stage] = (),
    account_id: uuid.UUID | None = None,
    org_unit: str | None = None,
    close_from: dt.date | None = None,
    close_to: dt.date | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Opportunity).where(visible(principal))
    if owner_id is not None:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    if unassigned is not None:
        stmt = stmt.where(Opportunity.owner_id.is_(None) if unassigned else Opportunity.owner_id.is_not(None))
    if stages:
        stmt = stmt.where(Opportunity.stage.in_([s.value for s in stages]))
    if account_id is not None:
        stmt = stmt.where(Opportunity.account_id == account_id)
    if org_unit:
        stmt = stmt.where(path_within(Opportunity.org_unit_path, org_unit))
    if close_from is not None:
        stmt = stmt.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        stmt = stmt.where(Opportunity.expected_close_date <= close_to)
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID) -> Opportunity | None:
    stmt = sa.select(Opportunity).where(Opportunity.id == opportunity_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


async def external_id_taken(session: AsyncSession, external_id: str) -> bool:
    stmt = sa.select(sa.literal(True)).where(Opportunity.external_id == external_id)
    return (await session.execute(stmt)).first() is not None
