"""The resource request list (the workspace's "decisions waiting") as
prebuilt statements (`sanlun.kernel.reads`): one SELECT per page, built once
per query shape and run outside a transaction.

The rule is `repository.visible`'s, spelled for a shape: the requester, the
owner, and the managers (and admins) above either. `expired` and `requested`
are told apart at the bound `now`, the business clock's time. The ORM
statement stays as the oracle `tests/services/resource_share/test_fast_reads.py`
compares with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import asyncpg
import sqlalchemy as sa

from sanlun.kernel.auth import Principal, can_see
from sanlun.kernel.reads import PrebuiltCache
from services.resource_share.db import PartiesShape, between_parties, fetch_between_parties
from services.resource_share.domain import workflow
from services.resource_share.domain.paths import organization_of
from services.resource_share.requests.models import ResourceRequest

RR: sa.Table = ResourceRequest.__table__  # type: ignore[assignment]
# role -> the party's id and org unit columns
PARTIES = {
    "requester": (RR.c.requester_id, RR.c.requester_org_unit_path),
    "owner": (RR.c.owner_id, RR.c.owner_org_unit_path),
}
FILTERS = ("resource_id", "opportunity_id")


def _list(shape: PartiesShape) -> sa.Select[Any]:
    return between_parties(RR, PARTIES, shape)


LIST = PrebuiltCache(_list)


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    now: dt.datetime,
    role: str | None,
    status: str | None,
    filters: Mapping[str, Any],
    page: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of one page (`page`: `db.Keyset.params()`) in `RequestRead`'s
    JSON shape for this caller at `now`; `filters`: the present ones of FILTERS."""
    rows = await fetch_between_parties(
        conn, LIST, principal, now=now, role=role, status=status, filters=filters, page=page
    )
    return [read_row(row, principal, now) for row in rows]


def read_row(row: Mapping[str, Any], principal: Principal, now: dt.datetime) -> dict[str, Any]:
    """`service.present` for a row: past its expiry an undecided request reads
    `expired`, past its due time `overdue`; a relationship's owner is shown
    only as far as they disclose themself to the requester's side."""
    status = workflow.effective_status(row["status"], row["expires_at"], now)
    unit: str = row["owner_org_unit_path"]
    disclosure = row["owner_disclosure"]
    hidden = row["resource_type"] == "relationship" and not can_see(
        principal, owner_id=row["owner_id"], org_unit_path=unit
    )
    owner_path: str | None = unit
    if hidden and disclosure == "organization":
        owner_path = organization_of(unit)
    elif hidden and disclosure == "anonymous":
        owner_path = None
    show_owner = not hidden or disclosure == "identity"
    return {
        "id": row["id"],
        "resource_id": row["resource_id"],
        "resource_type": row["resource_type"],
        "owner_id": row["owner_id"] if show_owner else None,
        "owner_org_unit_path": owner_path,
        "requester_id": row["requester_id"],
        "requester_org_unit_path": row["requester_org_unit_path"],
        "opportunity_id": row["opportunity_id"],
        "message": row["message"],
        "requested_at": row["requested_at"],
        "status": status,
        "allowed_actions": workflow.allowed_actions(workflow.REQUEST_TRANSITIONS, status),
        "due_at": row["due_at"],
        "overdue": status == "requested" and row["due_at"] <= now,
        "expires_at": row["expires_at"],
        "decided_by": row["decided_by"] if show_owner else None,
        "decided_at": row["decided_at"],
        "decision_note": row["decision_note"],
        "fulfilled_at": row["fulfilled_at"],
        "rating": row["rating"],
        "rating_comment": row["rating_comment"],
        "rated_at": row["rated_at"],
        "outcome": row["outcome"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }
