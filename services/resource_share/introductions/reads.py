"""The introduction list (the workspace's "decisions waiting") as prebuilt
statements (`sanlun.kernel.reads`): one SELECT per page, built once per query
shape and run outside a transaction.

The rule is `repository.visible`'s, spelled for a shape: the requester, the
connector, and the managers (and admins) above either. `expired` and
`requested` are told apart at the bound `now`, the business clock's time. The
ORM statement stays as the oracle `tests/services/resource_share/test_fast_reads.py`
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
from services.resource_share.domain import paths, workflow
from services.resource_share.introductions.models import Introduction

INTRO: sa.Table = Introduction.__table__  # type: ignore[assignment]
# role -> the party's id and org unit columns
PARTIES = {
    "requester": (INTRO.c.requester_id, INTRO.c.requester_org_unit_path),
    "connector": (INTRO.c.connector_id, INTRO.c.connector_org_unit_path),
}


def _list(shape: PartiesShape) -> sa.Select[Any]:
    return between_parties(INTRO, PARTIES, shape)


LIST = PrebuiltCache(_list)


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    now: dt.datetime,
    role: str | None,
    status: str | None,
    page: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of one page (`page`: `db.Keyset.params()`) in
    `IntroductionRead`'s JSON shape for this caller at `now`."""
    rows = await fetch_between_parties(conn, LIST, principal, now=now, role=role, status=status, filters={}, page=page)
    return [read_row(row, principal, now) for row in rows]


def read_row(row: Mapping[str, Any], principal: Principal, now: dt.datetime) -> dict[str, Any]:
    """`service.present` for a row: the connector shown as far as they
    disclose themself (fully to themself, their managers and admins)."""
    status = workflow.effective_status(row["status"], row["expires_at"], now)
    connector_id, connector_path = row["connector_id"], row["connector_org_unit_path"]
    connector_side = can_see(principal, owner_id=connector_id, org_unit_path=connector_path)
    rel = paths.Relationship(
        id=row["relationship_id"],
        owner_id=connector_id,
        owner_org_unit_path=connector_path,
        contact_id=row["target_contact_id"],
        account_id=row["target_account_id"],
        strength=0,
        disclosure="identity" if connector_side else row["connector_disclosure"],
    )
    viewer = principal.employee_id
    connector = paths.disclose_owner(rel, viewer_id=viewer)
    if connector_id == viewer:
        connector["disclosure"] = "you"
    return {
        "id": row["id"],
        "requester_id": row["requester_id"],
        "requester_org_unit_path": row["requester_org_unit_path"],
        "connector": connector,
        "relationship_ids": row["relationship_ids"],
        "target_contact_id": row["target_contact_id"],
        "target_account_id": row["target_account_id"],
        "strength": float(row["strength"]),
        "hops": row["hops"],
        "opportunity_id": row["opportunity_id"],
        "message": row["message"],
        "requested_at": row["requested_at"],
        "status": status,
        "allowed_actions": workflow.allowed_actions(workflow.INTRODUCTION_TRANSITIONS, status),
        "expires_at": row["expires_at"],
        "decided_at": row["decided_at"],
        "completed_at": row["completed_at"],
        "note": row["note"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }
