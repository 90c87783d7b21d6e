"""Core task 3, incubate opportunities: items idea → validated → qualified, promoted into TAS+.

Promotion calls the opportunity service while holding the item's row lock and
with `Idempotency-Key: incubation-item-<id>`: a retry (after a timeout, a
crash, or a lost commit here) replays the same opportunity instead of making a
second one, and the item is marked promoted only in the transaction that saw
the opportunity's id. If the call fails, nothing here changes.
"""

import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Conflict, NotFound, ProblemError, Unprocessable, UpstreamUnavailable
from sanlun.kernel.peers import Peers
from services.key_account.domain.plans import incubation_summary, transition_error
from services.key_account.plans import repository
from services.key_account.plans.models import AccountPlan, IncubationItem, WhitespaceCell
from services.key_account.plans.schemas import ItemCreate, ItemUpdate
from services.key_account.plans.service import check_employees

STAMPS = {"validated": "validated_at", "qualified": "qualified_at", "dropped": "dropped_at"}
# Upstream answers that say the caller may not do this: relayed with their status.
RELAYED = frozenset({403, 404, 409})


async def create(
    *, session: AsyncSession, principal: Principal, peers: Peers, plan: AccountPlan, data: ItemCreate
) -> IncubationItem:
    if data.whitespace_cell_id and not await repository.belongs(
        session, WhitespaceCell, plan.id, data.whitespace_cell_id
    ):
        raise Unprocessable(
            "The whitespace cell is not in this plan.",
            errors=[{"loc": ["body", "whitespace_cell_id"], "msg": "no cell with this id in this plan"}],
        )
    await check_employees(principal=principal, peers=peers, employees=[(data.owner_id, ["body", "owner_id"])])
    item = IncubationItem(
        plan_id=plan.id,
        account_id=plan.account_id,
        status="idea",
        **data.model_dump(exclude={"amount"}),
        amount=data.amount.amount if data.amount else None,
        currency=data.amount.currency if data.amount else None,
    )
    session.add(item)
    await session.flush()
    return item


async def get(*, session: AsyncSession, plan: AccountPlan, item_id: uuid.UUID) -> IncubationItem:
    item = await repository.belongs(session, IncubationItem, plan.id, item_id)
    if item is None:
        raise NotFound(f"Incubation item {item_id} was not found in this plan.")
    return item


async def update(
    *, session: AsyncSession, principal: Principal, peers: Peers, item: IncubationItem, data: ItemUpdate
) -> IncubationItem:
    changes = data.model_dump(exclude_unset=True, exclude={"amount"})
    for field in ("title", "status"):
        if field in changes and changes[field] is None:
            raise Unprocessable(f"{field} cannot be null.", errors=[{"loc": ["body", field], "msg": "cannot be null"}])
    if item.status == "promoted":
        raise Conflict("A promoted item is history: change the opportunity instead.", code="item_promoted")
    if changes.get("owner_id") is not None and changes["owner_id"] != item.owner_id:
        await check_employees(principal=principal, peers=peers, employees=[(changes["owner_id"], ["body", "owner_id"])])
    new_status = changes.get("status")
    if new_status is not None:
        problem = transition_error(item.status, new_status)
        if problem:
            raise Conflict(problem, code="illegal_transition", errors=[{"loc": ["body", "status"], "msg": problem}])
        if new_status != item.status and new_status in STAMPS:
            setattr(item, STAMPS[new_status], utcnow())
    if "amount" in data.model_fields_set:
        item.amount = data.amount.amount if data.amount else None
        item.currency = data.amount.currency if data.amount else None
    for field, value in changes.items():
        setattr(item, field, value)
    await session.flush()
    return item


def _opportunity_body(item: IncubationItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": item.title,
        "account_id": str(item.account_id),
        "source": "esp_incubation",
        "origin": {"type": "incubation_item", "id": str(item.id)},
    }
    if item.amount is not None:
        body["amount"] = {"amount": str(item.amount), "currency": item.currency}
    if item.expected_close_date is not None:
        body["expected_close_date"] = item.expected_close_date.isoformat()
    if item.owner_id is not None:
        body["owner_id"] = str(item.owner_id)
    return body


async def promote(
    *,
    session: AsyncSession,
    plan: AccountPlan,
    item_id: uuid.UUID,
    peers: Peers,
) -> tuple[IncubationItem, bool]:
    """Returns the item and whether this call promoted it (False: it already was)."""
    item = await repository.lock_item(session, plan.id, item_id)
    if item is None:
        raise NotFound(f"Incubation item {item_id} was not found in this plan.")
    if item.status == "promoted":
        return item, False
    if item.status != "qualified":
        raise Conflict(f"Only a qualified item can be promoted; this one is {item.status}.", code="not_qualified")
    # The Idempotency-Key makes the call safe to repeat: the kernel retries a broken connection once.
    response = await peers.post(
        "opportunity",
        "/api/v1/opportunities",
        _opportunity_body(item),
        headers={"Idempotency-Key": f"incubation-item-{item.id}"},
        advice="the item stays qualified, retry the promotion",
    )
    if response.status_code not in (200, 201):
        raise _rejected(response)
    opportunity = response.json()
    item.opportunity_id = uuid.UUID(opportunity["id"])
    item.opportunity_stage = opportunity.get("stage")
    item.status = "promoted"
    item.promoted_at = utcnow()
    await session.flush()
    return item, True


def _rejected(response: httpx.Response) -> ProblemError:
    try:
        upstream = response.json()
    except ValueError:
        upstream = {"body": response.text[:500]}
    detail = (
        f"The opportunity service refused the opportunity ({response.status_code}): {upstream.get('detail', '')}"
    ).strip()
    if response.status_code in RELAYED:
        error = ProblemError(detail, code="opportunity_rejected", service="opportunity", upstream_problem=upstream)
        error.status, error.title = response.status_code, "Opportunity Rejected"
        return error
    return UpstreamUnavailable(
        detail, service="opportunity", upstream_status=response.status_code, upstream_problem=upstream
    )


async def metrics(*, session: AsyncSession, where: sa.ColumnElement[bool]) -> dict[str, Any]:
    figures = await repository.incubation_figures(session, where)
    summary = incubation_summary(
        {s: int(figures[s] or 0) for s in ("idea", "validated", "qualified", "promoted", "dropped")},
        float(figures["median"]) if figures["median"] is not None else None,
        float(figures["mean"]) if figures["mean"] is not None else None,
    )
    return {**summary, "won": int(figures["won"] or 0), "promoted_amount": figures["promoted_amount"]}
