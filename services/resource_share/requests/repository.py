"""All queries of resource requests."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, visibility_clause
from services.resource_share.requests.models import ResourceRequest
from services.resource_share.resources.models import Resource


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    """Requester, owner, and the managers (and admins) above either of them."""
    return sa.or_(
        visibility_clause(
            principal,
            owner_column=ResourceRequest.requester_id,
            org_unit_column=ResourceRequest.requester_org_unit_path,
        ),
        visibility_clause(
            principal, owner_column=ResourceRequest.owner_id, org_unit_column=ResourceRequest.owner_org_unit_path
        ),
    )


def list_statement(
    principal: Principal,
    *,
    role: str | None,
    status: str | None,
    resource_id: uuid.UUID | None,
    opportunity_id: uuid.UUID | None,
    now: dt.datetime,
) -> sa.Select[Any]:
    """`expired` and `requested` are told apart at `now`, the business clock's time."""
    stmt = sa.select(ResourceRequest).where(visible(principal))
    me = principal.employee_id
    if role == "requester":
        stmt = stmt.where(ResourceRequest.requester_id == me)
    elif role == "owner":
        stmt = stmt.where(ResourceRequest.owner_id == me)
    if status == "expired":
        stmt = stmt.where(ResourceRequest.status == "requested", ResourceRequest.expires_at <= now)
    elif status == "requested":
        stmt = stmt.where(ResourceRequest.status == "requested", ResourceRequest.expires_at > now)
    elif status:
        stmt = stmt.where(ResourceRequest.status == status)
    if resource_id is not None:
        stmt = stmt.where(ResourceRequest.resource_id == resource_id)
    if opportunity_id is not None:
        stmt = stmt.where(ResourceRequest.opportunity_id == opportunity_id)
    return stmt


async def get_visible(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, for_update: bool = False
) -> ResourceRequest | None:
    stmt = sa.select(ResourceRequest).where(ResourceRequest.id == request_id, visible(principal))
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_use(session: AsyncSession, resource_id: uuid.UUID) -> None:
    await session.execute(
        sa.update(Resource).where(Resource.id == resource_id).values(usage_count=Resource.usage_count + 1)
    )


async def add_rating(session: AsyncSession, resource_id: uuid.UUID, rating: int) -> None:
    # A running mean in one statement: concurrent ratings cannot lose each other.
    await session.execute(
        sa.update(Resource)
        .where(Resource.id == resource_id)
        .values(
            rating_avg=(sa.func.coalesce(Resource.rating_avg, 0) * Resource.rating_count + rating)
            / (Resource.rating_count + 1),
            rating_count=Resource.rating_count + 1,
        )
    )


async def credit_win(session: AsyncSession, opportunity_id: uuid.UUID) -> int:
    """Requests served for a won opportunity contributed to the win (unless their outcome says otherwise)."""
    result = await session.execute(
        sa.update(ResourceRequest)
        .where(
            ResourceRequest.opportunity_id == opportunity_id,
            ResourceRequest.status.in_(("fulfilled", "rated")),
            sa.or_(ResourceRequest.outcome.is_(None), ResourceRequest.outcome == "contributed"),
        )
        .values(outcome="contributed_to_win", version=ResourceRequest.version + 1, updated_at=sa.func.now())
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
