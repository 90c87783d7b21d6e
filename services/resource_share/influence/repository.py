"""All queries of influence and profiles."""

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.resource_share.db import const, one_of
from services.resource_share.influence.models import Profile
from services.resource_share.introductions.models import Introduction
from services.resource_share.requests.models import ResourceRequest
from services.resource_share.resources.models import Resource
from services.resource_share.support.models import SupportRequest


def _organization(column: Any) -> sa.ColumnElement[str]:
    # `/group/east/team-3` → `group/east`: the first two segments name the organisation.
    slash = const("/")
    return (
        sa.func.split_part(column, slash, const(2), type_=sa.String)
        + slash
        + sa.func.split_part(column, slash, const(3), type_=sa.String)
    )


def _breakdown_statement() -> sa.Select[Any]:
    """Every figure in one statement of scalar subqueries over indexed columns.
    Built once: the employee is its one bind parameter (building it took a
    millisecond of CPU per request), its constants written into the SQL, so
    that PostgreSQL plans the prepared statement once (a generic plan as good
    as one planned for each employee) and `reads` can prebuild it for asyncpg."""
    employee_id = sa.bindparam("employee_id", type_=sa.Uuid)
    rr, intro, sr = ResourceRequest, Introduction, SupportRequest
    used = sa.and_(rr.owner_id == employee_id, one_of(rr.status, ("fulfilled", "rated")))
    same_org = _organization(rr.requester_org_unit_path) == _organization(rr.owner_org_unit_path)
    reached = sa.union(
        sa.select(_organization(rr.requester_org_unit_path).label("org")).where(used, ~same_org),
        sa.select(_organization(intro.requester_org_unit_path)).where(
            intro.connector_id == employee_id,
            intro.status == const("introduced"),
            _organization(intro.requester_org_unit_path) != _organization(intro.connector_org_unit_path),
        ),
    ).subquery()
    wins = sa.union(
        sa.select(rr.opportunity_id.label("opportunity_id")).where(
            used, rr.outcome == const("contributed_to_win"), rr.opportunity_id.is_not(None)
        ),
        sa.select(sr.opportunity_id).where(
            sr.assignee_id == employee_id, sr.status == const("fulfilled"), sr.won.is_(True)
        ),
    ).subquery()
    return sa.select(
        sa.select(sa.func.count())
        .where(used, rr.requester_org_unit_path != rr.owner_org_unit_path, same_org)
        .scalar_subquery()
        .label("reuse_other_teams"),
        sa.select(sa.func.count()).where(used, ~same_org).scalar_subquery().label("reuse_other_organizations"),
        sa.select(sa.func.count())
        .where(intro.connector_id == employee_id, intro.status == const("introduced"))
        .scalar_subquery()
        .label("introductions_completed"),
        sa.select(sa.func.count()).select_from(wins).scalar_subquery().label("wins_contributed"),
        sa.select(sa.func.count()).select_from(reached).scalar_subquery().label("organizations_reached"),
        sa.select(sa.func.avg(rr.rating)).where(used, rr.rating.is_not(None)).scalar_subquery().label("rating_avg"),
    )


BREAKDOWN = _breakdown_statement()


async def breakdown(session: AsyncSession, employee_id: uuid.UUID) -> Mapping[Any, Any]:
    return (await session.execute(BREAKDOWN, {"employee_id": employee_id})).one()._mapping


_ORG = "split_part({0}, '/', 2) || '/' || split_part({0}, '/', 3)"
_REQUESTER_ORG = _ORG.format("requester_org_unit_path")
_OWNER_ORG = _ORG.format("owner_org_unit_path")
# What a reader sees (domain.workflow.effective_status): undecided past its expiry is `expired`.
_EFFECTIVE_STATUS = "CASE WHEN status = 'requested' AND expires_at <= :now THEN 'expired' ELSE status END"
# One round trip for every figure (four grouped reads, each on its
# (owner|connector|assignee, status) index), returned as JSON. The window runs
# on business times (`requested_at`, `fulfilled_at`: the clock's, not the records').
_DEMAND_SQL = f"""
WITH requests AS (
    SELECT {_EFFECTIVE_STATUS} AS status,
           count(*) FILTER (WHERE requested_at >= :since) AS in_window,
           count(*) FILTER (WHERE requested_at >= :since
                            AND {_REQUESTER_ORG} <> {_OWNER_ORG}) AS other_org,
           count(*) AS total
    FROM resource_share.resource_requests
    WHERE owner_id = :employee_id AND (requested_at >= :since OR status = 'requested')
    GROUP BY 1
), introductions AS (
    SELECT {_EFFECTIVE_STATUS} AS status,
           count(*) FILTER (WHERE requested_at >= :since) AS in_window,
           count(*) AS total
    FROM resource_share.introductions
    WHERE connector_id = :employee_id AND (requested_at >= :since OR status = 'requested')
    GROUP BY 1
)
SELECT
    (SELECT coalesce(json_agg(requests), '[]') FROM requests) AS requests,
    (SELECT coalesce(json_agg(introductions), '[]') FROM introductions) AS introductions,
    (SELECT count(DISTINCT {_REQUESTER_ORG}) FROM resource_share.resource_requests
     WHERE owner_id = :employee_id AND requested_at >= :since) AS organizations,
    (SELECT count(*) FROM resource_share.support_requests
     WHERE assignee_id = :employee_id AND status = 'assigned') AS assigned_open,
    (SELECT count(*) FROM resource_share.support_requests
     WHERE assignee_id = :employee_id AND status = 'fulfilled' AND fulfilled_at >= :since) AS fulfilled
"""  # noqa: S608 - interpolates only the constant expressions above, built from constant column names
DEMAND = sa.text(_DEMAND_SQL).bindparams(
    sa.bindparam("employee_id", type_=sa.Uuid),
    sa.bindparam("since", type_=sa.DateTime(timezone=True)),
    sa.bindparam("now", type_=sa.DateTime(timezone=True)),
)


async def demand(session: AsyncSession, employee_id: uuid.UUID, *, since: Any, now: Any) -> dict[str, Any]:
    """What others ask of the employee since `since`, as it stands at `now` (the business clock), in one statement."""
    row = (await session.execute(DEMAND, {"employee_id": employee_id, "since": since, "now": now})).one()
    return demand_figures(row._mapping)


def demand_figures(row: Mapping[Any, Any]) -> dict[str, Any]:
    """`DEMAND`'s row as `Demand`'s figures."""
    requests, introductions = row["requests"], row["introductions"]
    return {
        "resource_requests": {
            "total": sum(r["in_window"] for r in requests),
            "by_status": {r["status"]: r["in_window"] for r in requests if r["in_window"]},
            "waiting_decision": sum(r["total"] for r in requests if r["status"] == "requested"),
            "requesting_organizations": row["organizations"],
            "from_other_organizations": sum(r["other_org"] for r in requests),
        },
        "introductions": {
            "total": sum(r["in_window"] for r in introductions),
            "by_status": {r["status"]: r["in_window"] for r in introductions if r["in_window"]},
            "waiting_decision": sum(r["total"] for r in introductions if r["status"] == "requested"),
        },
        "support_requests": {"assigned_open": row["assigned_open"], "fulfilled": row["fulfilled"]},
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
