"""All queries of introductions, including the subgraph a path query needs."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, visibility_clause
from services.resource_share.domain.paths import Relationship
from services.resource_share.introductions.models import Introduction
from services.resource_share.resources.models import GRAPH_SCOPES, Resource

_COLUMNS = (
    Resource.id,
    Resource.owner_id,
    Resource.org_unit_path,
    Resource.contact_id,
    Resource.account_id,
    Resource.strength,
    Resource.disclosure,
    Resource.shared,
)


def _live(today: dt.date) -> sa.ColumnElement[bool]:
    """A relationship whose consent still holds on `today` (the business clock's day)."""
    return sa.and_(Resource.type == "relationship", Resource.consent_expires_on >= today)


def _graph(today: dt.date) -> sa.ColumnElement[bool]:
    # Spelled as the partial indexes' predicate so the planner uses them.
    return sa.and_(_live(today), Resource.scope.in_(GRAPH_SCOPES))


async def subgraph(
    session: AsyncSession,
    *,
    requester_id: uuid.UUID,
    contact_id: uuid.UUID | None,
    account_id: uuid.UUID | None,
    today: dt.date,
) -> list[Relationship]:
    """Every edge a path of at most three hops to the target can use, in one
    statement: shared relationships to the target (or its account), the
    requester's own relationships, and shared relationships that link the
    requester's contacts to the people who know the target."""
    if contact_id is not None:
        # Two index scans joined by UNION: an OR across both columns would scan the table.
        accounts = sa.select(Resource.account_id).where(_graph(today), Resource.contact_id == contact_id)
        target = sa.union(
            sa.select(*_COLUMNS).where(_graph(today), Resource.contact_id == contact_id),
            sa.select(*_COLUMNS).where(_graph(today), Resource.account_id.in_(accounts.scalar_subquery())),
        ).cte("target_edges")
    else:
        target = sa.select(*_COLUMNS).where(_graph(today), Resource.account_id == account_id).cte("target_edges")
    own = sa.select(*_COLUMNS).where(_live(today), Resource.owner_id == requester_id).cte("own_edges")
    mutual = sa.select(*_COLUMNS).where(
        _graph(today),
        Resource.contact_id.in_(sa.select(own.c.contact_id)),
        Resource.owner_id.in_(sa.select(target.c.owner_id)),
        Resource.owner_id != requester_id,
    )
    stmt = sa.union(sa.select(target), sa.select(own), mutual)
    rows = (await session.execute(stmt)).all()
    return [
        Relationship(
            id=r.id,
            owner_id=r.owner_id,
            owner_org_unit_path=r.org_unit_path,
            contact_id=r.contact_id,
            account_id=r.account_id,
            strength=r.strength,
            disclosure=r.disclosure,
            shared=r.shared or {},
        )
        for r in rows
    ]


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    return sa.or_(
        visibility_clause(
            principal, owner_column=Introduction.requester_id, org_unit_column=Introduction.requester_org_unit_path
        ),
        visibility_clause(
            principal, owner_column=Introduction.connector_id, org_unit_column=Introduction.connector_org_unit_path
        ),
    )


def list_statement(principal: Principal, *, role: str | None, status: str | None, now: dt.datetime) -> sa.Select[Any]:
    """`expired` and `requested` are told apart at `now`, the business clock's time."""
    stmt = sa.select(Introduction).where(visible(principal))
    if role == "requester":
        stmt = stmt.where(Introduction.requester_id == principal.employee_id)
    elif role == "connector":
        stmt = stmt.where(Introduction.connector_id == principal.employee_id)
    if status == "expired":
        stmt = stmt.where(Introduction.status == "requested", Introduction.expires_at <= now)
    elif status == "requested":
        stmt = stmt.where(Introduction.status == "requested", Introduction.expires_at > now)
    elif status:
        stmt = stmt.where(Introduction.status == status)
    return stmt


async def get_visible(
    session: AsyncSession, principal: Principal, introduction_id: uuid.UUID, *, for_update: bool = False
) -> Introduction | None:
    stmt = sa.select(Introduction).where(Introduction.id == introduction_id, visible(principal))
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()
