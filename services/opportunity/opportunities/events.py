"""The `opportunity.*` events, with exactly the data docs/contracts.md fixes."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.events import Event, publish
from services.opportunity.opportunities.models import Opportunity


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def data(
    o: Opportunity, *, previous_owner_id: object = None, previous_stage: str | None = None, kind: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "opportunity_id": str(o.id),
        "owner_id": _s(o.owner_id),
        "org_unit_path": o.org_unit_path,
        "account_id": _s(o.account_id),
        "stage": o.stage,
        "amount": {"amount": f"{o.amount.amount:.2f}", "currency": o.amount.currency} if o.amount else None,
        "solution_ids": [str(s) for s in o.solution_ids or []],
        "industry": o.industry,
        "size_band": o.size_band,
        "expected_close_date": _s(o.expected_close_date),
        "origin_type": o.origin_type,
        "origin_id": o.origin_id,
        "version": o.version,
    }
    if kind == "assigned":
        out["previous_owner_id"] = _s(previous_owner_id)
    if kind in ("stage_changed", "won", "lost"):
        out["previous_stage"] = previous_stage
    if kind in ("won", "lost"):
        out["closed_on"] = _s(o.closed_on)
    return out


def event(o: Opportunity, kind: str, **kw: Any) -> Event:
    return Event(type=f"opportunity.{kind}", subject=str(o.id), data=data(o, kind=kind, **kw))


async def emit(session: AsyncSession, o: Opportunity, kind: str, **kw: Any) -> None:
    await publish(session, event(o, kind, **kw))
