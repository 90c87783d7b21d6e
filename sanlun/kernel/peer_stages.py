"""Stages of many employees: live from the employee lifecycle service, else a local view.

Two services need the stage (and capacity) of many employees at once: the
assignment node and the support desk. Both ask the lifecycle service's
`POST /api/v1/employees/stages:batch-get` with the caller's token (so the
caller's visibility applies) and, when it cannot answer, fall back to the
view each keeps from `employee.stage_changed` events: the answer is then
marked `cached`, with the time of that data and a note saying why.

The local view is the caller's (`LocalStages`): this module knows the
contract of the batch read, not what a stage means.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

import structlog

from sanlun.kernel.db import utcnow
from sanlun.kernel.peers import PEER_ERRORS, Peers, failure_reason

log = structlog.get_logger("sanlun.peer_stages")

SERVICE = "employee_lifecycle"
PATH = "/api/v1/employees/stages:batch-get"
# A peer that is down, or an answer not shaped as expected: the local view answers instead.
FALLBACK_ERRORS: tuple[type[Exception], ...] = (*PEER_ERRORS, ValueError, KeyError, TypeError)


@dataclass(frozen=True, slots=True)
class StageInfo:
    stage: str | None
    capacity: int = 0
    open_load: int | None = None


@dataclass(slots=True)
class Stages:
    by_employee: dict[uuid.UUID, StageInfo]
    source: str  # "live" | "cached"
    as_of: dt.datetime | None
    # Ids the lifecycle service does not know or does not show to the caller.
    not_found: list[uuid.UUID] = field(default_factory=list)
    # Why the answer is `cached`.
    note: str | None = None

    def stage(self, employee_id: uuid.UUID) -> str | None:
        info = self.by_employee.get(employee_id)
        return info.stage if info is not None else None


# The local view of some employees: what is known of them, and as of when.
LocalStages = Callable[[list[uuid.UUID]], Awaitable[tuple[dict[uuid.UUID, StageInfo], dt.datetime | None]]]


async def fetch(
    peers: Peers, employee_ids: Collection[uuid.UUID], *, local: LocalStages, fill_missing: bool = False
) -> Stages:
    """Live stages of `employee_ids`, or the local view when the lifecycle
    service cannot answer. With `fill_missing`, ids the live answer gives no
    stage for (unknown, hidden from the caller, or stageless) take the local
    view's too; otherwise they are listed in `not_found` (the unknown and
    hidden ones) and left out."""
    ids = list(dict.fromkeys(employee_ids))
    if not ids:
        return Stages({}, "live", utcnow())
    try:
        answers = await peers.post_batches(SERVICE, PATH, ids, field="employee_ids")
        live: dict[uuid.UUID, StageInfo] = {}
        not_found: list[uuid.UUID] = []
        for answer in answers:
            for item in answer["items"]:
                live[uuid.UUID(item["employee_id"])] = StageInfo(
                    item.get("stage"), int(item.get("capacity") or 0), item.get("open_load")
                )
            not_found += [uuid.UUID(i) for i in answer.get("not_found", [])]
    except FALLBACK_ERRORS as exc:
        reason = failure_reason(exc)
        log.warning("stages_live_failed", reason=reason, error=str(exc)[:300])
        cached, as_of = await local(ids)
        seen = f", as of {as_of.isoformat()}" if as_of else ", none seen yet"
        return Stages(
            cached,
            "cached",
            as_of,
            note=f"employee lifecycle service unavailable ({reason}): stages and capacity as last seen "
            f"from its events{seen}",
        )
    if fill_missing:
        missing = [i for i in ids if live.get(i) is None or live[i].stage is None]
        if missing:
            cached, _ = await local(missing)
            live.update(cached)
    return Stages(live, "live", utcnow(), not_found)
