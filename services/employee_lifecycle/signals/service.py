"""Facts in: from other services' events and from the back-fill endpoint."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, require_roles
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import NotFound
from sanlun.kernel.references import unknown_reference
from services.employee_lifecycle.employees import repository as employees_repository
from services.employee_lifecycle.policies.service import policies_for
from services.employee_lifecycle.signals import repository
from services.employee_lifecycle.signals.models import (
    CLOSED,
    COVERAGE,
    INTRODUCTION_MADE,
    LOST,
    OPEN,
    RELEASED,
    RESOURCE_REUSED,
    WON,
)
from services.employee_lifecycle.signals.schemas import BackfillWrite


async def backfill(*, session: AsyncSession, principal: Principal, data: BackfillWrite) -> tuple[int, int]:
    require_roles(principal, "org_admin", "group_admin", "integrator")
    ids = [f.employee_id for f in data.facts]
    known = await repository.known_employees(session, ids, employees_repository.visible(principal))
    errors = [
        {"loc": ["body", "facts", i, "employee_id"], "msg": "no employee with this id that you may see"}
        for i, f in enumerate(data.facts)
        if f.employee_id not in known
    ]
    if errors:
        # Unknown and invisible alike (issue 16): the same answer, nothing stored.
        raise unknown_reference(errors[:50])
    rows = []
    for f in data.facts:
        row = f.model_dump(exclude={"amount"})
        row["amount"], row["currency"] = (f.amount.amount, f.amount.currency) if f.amount else (None, None)
        rows.append(row)
    inserted = await repository.insert_facts(session, rows)
    return len(rows), inserted


async def signals_of(
    *, session: AsyncSession, principal: Principal, employee_id: uuid.UUID, as_of: dt.date | None
) -> tuple[dt.date, str, dict[str, float | None]]:
    employee = await employees_repository.get_visible(session, principal, employee_id)
    if employee is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    as_of = as_of or session_clock(session).today()
    currency = (await policies_for(session, {employee.org_unit_path}))[employee.org_unit_path].currency
    signals = await repository.signals_for(session, [employee_id], as_of=as_of, currency=currency)
    return as_of, currency, signals[employee_id]


# -- from events -----------------------------------------------------------------


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _organisation(path: str | None) -> str:
    parts = [p for p in (path or "").split("/") if p]
    return "/".join(parts[:2])


def opportunity_facts(event_id: uuid.UUID, event_type: str, day: dt.date, data: dict[str, Any]) -> list[dict[str, Any]]:
    """What an `opportunity.*` event means for its owner's signals."""
    owner = _uuid(data.get("owner_id"))
    money = data.get("amount") or {}
    base = {
        "opportunity_ref": str(data.get("opportunity_id")),
        "account_ref": data.get("account_id"),
        "amount": money.get("amount"),
        "currency": money.get("currency"),
        "solution_refs": [str(s) for s in data.get("solution_ids") or []],
        "source_version": data.get("version"),
    }
    facts = []

    def add(kind: str, employee: uuid.UUID, on: dt.date) -> None:
        facts.append(
            {**base, "external_id": f"{event_id}:{kind}", "kind": kind, "employee_id": employee, "occurred_on": on}
        )

    closed_on = dt.date.fromisoformat(data["closed_on"]) if data.get("closed_on") else day
    if event_type == "opportunity.assigned":
        previous = _uuid(data.get("previous_owner_id"))
        if previous and previous != owner:
            add(RELEASED, previous, day)
    if owner is None:
        return facts
    if event_type == "opportunity.won":
        add(WON, owner, closed_on)
    elif event_type == "opportunity.lost":
        add(LOST, owner, closed_on)
    elif event_type == "opportunity.stage_changed" and data.get("stage") == "abandoned":
        add(CLOSED, owner, day)
    elif data.get("stage") not in ("won", "lost", "abandoned"):
        # A deal created or assigned already closed (an import of history) is
        # not open work today; its outcome arrives as won/lost or back-fill.
        add(OPEN, owner, day)
    return facts


async def record_opportunity_event(
    session: AsyncSession, event_id: uuid.UUID, event_type: str, day: dt.date, data: dict[str, Any]
) -> list[uuid.UUID]:
    facts = opportunity_facts(event_id, event_type, day, data)
    await repository.insert_facts(session, facts)
    return list({f["employee_id"] for f in facts})


async def record_coverage(session: AsyncSession, data: dict[str, Any]) -> list[uuid.UUID]:
    account = str(data["account_id"])
    version = int(data.get("version") or 0)
    known = await repository.coverage_version(session, account)
    if known is not None and known >= version:
        return []  # a stale or repeated view of the team
    rows = []
    for m in data.get("members") or []:
        employee = _uuid(m.get("employee_id"))
        if employee is None or not m.get("valid_from"):
            continue
        rows.append(
            {
                "external_id": f"coverage:{account}:{version}:{employee}:{m.get('role')}",
                "kind": COVERAGE,
                "employee_id": employee,
                "occurred_on": dt.date.fromisoformat(m["valid_from"]),
                "ends_on": dt.date.fromisoformat(m["valid_to"]) if m.get("valid_to") else None,
                "account_ref": account,
                "outcome": m.get("role"),
                "source_version": version,
            }
        )
    await repository.replace_coverage(session, account, rows)
    return list({r["employee_id"] for r in rows})


async def record_resource_used(session: AsyncSession, event_id: uuid.UUID, day: dt.date, data: dict[str, Any]) -> None:
    owner, user = _uuid(data.get("owner_id")), _uuid(data.get("user_id"))
    if owner is None or owner == user:
        return  # using one's own resource is not influence
    await repository.insert_facts(
        session,
        [
            {
                "external_id": f"{event_id}:{RESOURCE_REUSED}",
                "kind": RESOURCE_REUSED,
                "employee_id": owner,
                "occurred_on": day,
                "opportunity_ref": data.get("opportunity_id"),
                "outcome": data.get("outcome"),
                "cross_org": _organisation(data.get("owner_org_unit_path"))
                != _organisation(data.get("user_org_unit_path")),
            }
        ],
    )


async def record_introduction(session: AsyncSession, event_id: uuid.UUID, day: dt.date, data: dict[str, Any]) -> None:
    connector = _uuid(data.get("connector_id"))
    if connector is None or data.get("outcome") != "introduced":
        return
    await repository.insert_facts(
        session,
        [
            {
                "external_id": f"{event_id}:{INTRODUCTION_MADE}",
                "kind": INTRODUCTION_MADE,
                "employee_id": connector,
                "occurred_on": day,
                "account_ref": data.get("account_id"),
                "outcome": data.get("outcome"),
                "cross_org": _organisation(data.get("connector_org_unit_path"))
                != _organisation(data.get("requester_org_unit_path")),
            }
        ],
    )
