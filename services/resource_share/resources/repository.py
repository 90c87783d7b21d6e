"""All queries of the resources area."""

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.resource_share.resources.models import Resource, Scope


def editable(principal: Principal) -> sa.ColumnElement[bool]:
    """The owner, managers above the owner's unit and admins: the architecture's rule."""
    return visibility_clause(principal, owner_column=Resource.owner_id, org_unit_column=Resource.org_unit_path)


def consent_live(today: dt.date) -> sa.ColumnElement[bool]:
    """A relationship whose contact's consent has expired before `today` (the
    business clock's day) is hidden (but from its owner)."""
    return sa.or_(Resource.type != "relationship", Resource.consent_expires_on >= today)


def visible(principal: Principal, today: dt.date) -> sa.ColumnElement[bool]:
    """`editable` widened by each resource's scope; expired consents hidden from all but the owner."""
    owner = principal.employee_id
    live = consent_live(today)
    return sa.and_(_in_scope(principal), sa.or_(live, Resource.owner_id == owner) if owner is not None else live)


def _in_scope(principal: Principal) -> sa.ColumnElement[bool]:
    clauses = [
        editable(principal),
        Resource.scope.in_((Scope.GROUP, Scope.PUBLIC)),
        sa.and_(Resource.scope == Scope.TEAM, Resource.org_unit_path == principal.org_unit_path),
    ]
    # Someone placed above every organisation (e.g. at `/group`) belongs to none,
    # so organisation scope must not open every organisation to them.
    organization = principal.organization_path
    if organization.count("/") >= 2:
        clauses.append(sa.and_(Resource.scope == Scope.ORGANIZATION, path_within(Resource.org_unit_path, organization)))
    return sa.or_(*clauses)


def list_statement(
    principal: Principal,
    *,
    today: dt.date,
    type: str | None = None,
    industry: str | None = None,
    solution: str | None = None,
    organization: str | None = None,
    owner_id: uuid.UUID | None = None,
    q: str | None = None,
) -> sa.Select[Any]:
    stmt = sa.select(Resource).where(visible(principal, today))
    if type:
        stmt = stmt.where(Resource.type == type)
    if industry:
        stmt = stmt.where(Resource.industries.contains([industry]))
    if solution:
        stmt = stmt.where(Resource.solutions.contains([solution]))
    # Filtering by owner or unit must not reveal who holds an undisclosed relationship.
    if organization:
        stmt = stmt.where(
            path_within(Resource.org_unit_path, organization),
            _discloses(principal, ("identity", "organization")),
        )
    if owner_id is not None:
        stmt = stmt.where(Resource.owner_id == owner_id, _discloses(principal, ("identity",)))
    if q:
        stmt = stmt.where(Resource.search.bool_op("@@")(sa.func.websearch_to_tsquery("simple", q)))
    return stmt


def _discloses(principal: Principal, levels: tuple[str, ...]) -> sa.ColumnElement[bool]:
    return sa.or_(Resource.type != "relationship", Resource.disclosure.in_(levels), editable(principal))


async def get_visible(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, *, today: dt.date
) -> Resource | None:
    stmt = sa.select(Resource).where(Resource.id == resource_id, visible(principal, today))
    return (await session.execute(stmt)).scalar_one_or_none()
