"""All queries of influence and profiles."""

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.resource_share.influence.models import Profile
from services.resource_share.introductions.models import Introduction
from services.resource_share.requests.models import ResourceRequest
from services.resource_share.resources.models import Resource
from services.resource_share.support.models import SupportRequest


def _organization(column: Any) -> sa.ColumnElement[str]:
    # `/group/east/team-3` → `group/east`: the first two segments name the organisation.
    return sa.func.split_part(column, "/", 2) + "/" + sa.func.split_part(column, "/", 3)


async def breakdown(session: AsyncSession, employee_id: uuid.UUID) -> Any:
    """Every figure in one statement of scalar subqueries over indexed columns."""
    rr, intro, sr = ResourceRequest, Introduction, SupportRequest
    used = sa.and_(rr.owner_id == employee_id, rr.status.in_(("fulfilled", "rated")))
    same_org = _organization(rr.requester_org_unit_path) == _organization(rr.owner_org_unit_path)
    reached = sa.union(
        sa.select(_organization(rr.requester_org_unit_path).label("org")).where(used, ~same_org),
        sa.select(_organization(intro.requester_org_unit_path)).where(
            intro.connector_id == employee_id, intro.status == "introduced",
            _organization(intro.requester_org_unit_path) != _organization(intro.connector_org_unit_path),
        ),
    ).subquery()
    wins = sa.union(
        sa.select(rr.opportunity_id.label("opportunity_id")).where(
            used, rr.outcome == "contributed_to_win", rr.opportunity_id.is_not(None)
        ),
        sa.select(sr.opportunity_id).where(sr.assignee_id == employee_id, sr.status == "fulfilled", sr.won.is_(True)),
    ).subquery()
    stmt = sa.select(
        sa.select(sa.func.count()).where(used, rr.requester_org_unit_path != rr.owner_org_unit_path, same_org)
        .scalar_subquery().label("reuse_other_teams"),
        sa.select(sa.func.count()).where(used, ~same_org).scalar_subquery().label("reuse_other_organizations"),
        sa.select(sa.func.count()).where(intro.connector_id == employee_id, intro.status == "introduced")
        .scalar_subquery().label("introductions_completed"),
        sa.select(sa.func.count()).select_from(wins).scalar_subquery().label("wins_contributed"),
        sa.select(sa.func.count()).select_from(reached).scalar_subquery().label("organizations_reached"),
        sa.select(sa.func.avg(rr.rating)).where(used, rr.rating.is_not(None)).scalar_subquery().label("rating_avg"),
    )
    return (await session.execute(stmt)).one()


async def demand(session: AsyncSession, employee_id: uuid.UUID, since: Any) -> dict[str, Any]:
    """What others ask of the employee: three grouped reads on the (owner or
    connector or assignee, status) indexes."""
    rr, intro, sr = ResourceRequest, Introduction, SupportRequest
    in_window = rr.created_at >= since
    other_org = _organization(rr.requester_org_unit_path) != _organization(rr.owner_org_unit_path)
    requests = (await session.execute(
        sa.select(rr.status, sa.func.count().filter(in_window), sa.func.count().filter(in_window, other_org),
                  sa.func.count())
        .where(rr.owner_id == employee_id, sa.or_(in_window, rr.status == "requested"))
        .group_by(rr.status)
    )).all()
    organizations = (await session.execute(
        sa.select(sa.func.count(sa.distinct(_organization(rr.requester_org_unit_path))))
        .where(rr.owner_id == employee_id, in_window)
    )).scalar_one()
    introductions = (await session.execute(
        sa.select(intro.status, sa.func.count().filter(intro.created_at >= since), sa.func.count())
        .where(intro.connector_id == employee_id, sa.or_(intro.created_at >= since, intro.status == "requested"))
        .group_by(intro.status)
    )).all()
    support = (await session.execute(
        sa.select(
            sa.func.count().filter(sr.status == "assigned"),
            sa.func.count().filter(sr.status == "fulfilled", sr.updated_at >= since),
        ).where(sr.assignee_id == employee_id, sr.status.in_(("assigned", "fulfilled")))
    )).one()
    return {
        "resource_requests": {
            "total": sum(r[1] for r in requests),
            "by_status": {r[0]: r[1] for r in requests if r[1]},
            "waiting_decision": sum(r[3] for r in requests if r[0] == "requested"),
            "requesting_organizations": organizations,
            "from_other_organizations": sum(r[2] for r in requests),
        },
        "introductions": {
            "total": sum(r[1] for r in introductions),
            "by_status": {r[0]: r[1] for r in introductions if r[1]},
            "waiting_decision": sum(r[2] for r in introductions if r[0] == "requested"),
        },
        "support_requests": {"assigned_open": support[0], "fulfilled": support[1]},
    }


async def get_profile(session: AsyncSession, employee_id: uuid.UUID) -> Profile | None:
    return (await session.execute(sa.select(Profile).where(Profile.employee_id == employee_id))).scalar_one_or_none()


async def shared_assets(session: AsyncSession, employee_id: uuid.UUID, *, limit: int = 10) -> list[Resource]:
    """What a public profile shows: the owner's group-wide, non-relationship resources, most used first."""
    stmt = (
        sa.select(Resource)
        .where(
            Resource.owner_id == employee_id,
            Resource.scope.in_(("group", "public")),
            Resource.type != "relationship",
        )
        .order_by(Resource.usage_count.desc(), Resource.created_at, Resource.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
