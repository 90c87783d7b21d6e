"""Consumers of the other services' events: facts in (the signals area), then
re-evaluation of the people a decisive fact is about (wins, losses, coverage).

They live with the stages because they drive them: stages depend on signals,
never the other way round."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.clock import session_clock
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.events import Batched, EventHandler
from services.employee_lifecycle.signals import repository as signals_repository
from services.employee_lifecycle.signals import service
from services.employee_lifecycle.stages import repository as stages_repository
from services.employee_lifecycle.stages import service as stages_service

SYSTEM = Principal(subject="service:employee_lifecycle", org_unit_path="/", roles=frozenset({"group_admin"}))


async def _reevaluate(session: AsyncSession, employee_ids: Sequence[uuid.UUID]) -> None:
    if not employee_ids:
        return
    rows = await stages_repository.employees_for_evaluation(
        session, visible=stages_service._visible(SYSTEM), ids=employee_ids
    )
    # Event-triggered: refreshes the explanation and the provisional stage; only the scheduled round confirms.
    today = session_clock(session).today()
    await stages_service.evaluate_rows(session=session, employees=rows, as_of=today, record=True, scheduled=False)


def _day(session: AsyncSession, event: CloudEvent) -> dt.date:
    """The business day of a fact an event reports: the day it happened, but
    never after this service's today (a publisher stamping real time while the
    clock is set back would otherwise date facts no evaluation ever sees)."""
    return min(event.time.date(), session_clock(session).today())


async def on_opportunities(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """A run of `opportunity.*` events: their facts in one statement, then one
    evaluation of everyone a win or a loss was about (provisional: only the
    scheduled round confirms)."""
    facts: list[dict[str, Any]] = []
    decisive: set[uuid.UUID] = set()
    for event in events:
        these = service.opportunity_facts(event.id, event.type, _day(session, event), event.data)
        facts += these
        if event.type in ("opportunity.won", "opportunity.lost"):
            decisive.update(f["employee_id"] for f in these)
    await signals_repository.insert_facts(session, facts)
    await _reevaluate(session, sorted(decisive))


OPPORTUNITY_EVENTS = Batched(on_opportunities)


async def on_coverage_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    await _reevaluate(session, await service.record_coverage(session, event.data))


async def on_resource_used(*, session: AsyncSession, event: CloudEvent) -> None:
    await service.record_resource_used(session, event.id, _day(session, event), event.data)


async def on_introduction_completed(*, session: AsyncSession, event: CloudEvent) -> None:
    await service.record_introduction(session, event.id, _day(session, event), event.data)


EVENT_HANDLERS: dict[str, EventHandler | Batched] = {
    "opportunity.created": OPPORTUNITY_EVENTS,
    "opportunity.assigned": OPPORTUNITY_EVENTS,
    "opportunity.stage_changed": OPPORTUNITY_EVENTS,
    "opportunity.won": OPPORTUNITY_EVENTS,
    "opportunity.lost": OPPORTUNITY_EVENTS,
    "account.coverage_changed": on_coverage_changed,
    "resource.used": on_resource_used,
    "introduction.completed": on_introduction_completed,
}
