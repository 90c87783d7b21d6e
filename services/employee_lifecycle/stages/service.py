"""Stage use cases: evaluate (one, a list, a unit), override, sweep expired
overrides, batch read. Functions flush; the edge commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, require_roles
from sanlun.kernel.clock import session_clock
from sanlun.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from sanlun.kernel.events import Event, publish_many
from services.employee_lifecycle.domain import engine, lifecycle
from services.employee_lifecycle.domain.lifecycle import (
    CONFIRMED,
    EVALUATION,
    KIND_OF_REASON,
    PROVISIONAL,
    Change,
    StageState,
    Step,
)
from services.employee_lifecycle.domain.policy import Policy
from services.employee_lifecycle.employees import repository as employees_repository
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.policies.service import policies_for
from services.employee_lifecycle.signals import repository as signals_repository
from services.employee_lifecycle.stages import repository

ADMIN_ROLES = ("org_admin", "group_admin", "integrator")
OVERRIDING_ROLES = ("manager", "org_admin", "group_admin")


def state_from_row(row: Any | None) -> StageState:
    if row is None:
        return StageState()
    return StageState(
        stage=row.stage,
        since=row.stage_since,
        candidate=row.candidate_stage,
        candidate_since=row.candidate_since,
        candidate_days=row.candidate_days,
        last_counted_on=row.last_counted_on,
        provisional=row.provisional_stage,
        provisional_since=row.provisional_since,
        override_stage=row.override_stage,
        override_since=row.override_since,
        override_expires_at=row.override_expires_at,
    )


# Plain dicts by hand: dataclasses.asdict deep-copies and dominated a 10,000-employee evaluation.
def rule_dict(r: engine.RuleResult) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "stage": r.stage,
        "status": r.status,
        "conditions": [
            {"signal": c.signal, "op": c.op, "threshold": c.threshold, "observed": c.observed, "met": c.met}
            for c in r.conditions
        ],
    }


def gap_dict(g: engine.Gap | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {
        "target_stage": g.target_stage,
        "rule_id": g.rule_id,
        "en": g.en,
        "zh": g.zh,
        "items": [
            {"signal": i.signal, "observed": i.observed, "threshold": i.threshold, "en": i.en, "zh": i.zh}
            for i in g.items
        ],
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    employee_id: uuid.UUID
    as_of: dt.date
    stage: str
    since: dt.date | None
    evaluation: engine.Evaluation
    policy: Policy
    needs: list[str]
    gap: engine.Gap | None
    state: StageState | None
    step: Step | None
    recorded: bool
    scheduled: bool

    @property
    def change(self) -> Change | None:
        """The effective stage moved (published as `employee.stage_changed`)."""
        return self.step.change if self.step is not None else None

    def explanation(self) -> dict[str, Any]:
        en, zh = engine.reasons(self.evaluation)
        return {
            "as_of": self.as_of.isoformat(),
            "computed_stage": self.evaluation.stage,
            "decided_by": self.evaluation.decided_by,
            "policy": {"organization_path": self.policy.organization_path, "version": self.policy.version},
            "rules": [rule_dict(r) for r in self.evaluation.rules],
            "signals": dict(self.evaluation.signals),
            "needs": self.needs,
            "reasons": {"en": en, "zh": zh},
            "gap": gap_dict(self.gap),
            "hysteresis": self.policy.hysteresis,
            "confirm_after_days": self.policy.confirm_after_days,
            "scheduled": self.scheduled,
        }


def stage_changed_event(
    employee_id: uuid.UUID, org_unit_path: str, capacity: int, change: Change, needs: list[str], policy_version: int
) -> Event:
    return Event(
        type="employee.stage_changed",
        subject=str(employee_id),
        data={
            "employee_id": str(employee_id),
            "org_unit_path": org_unit_path,
            "stage": change.stage,
            "previous_stage": change.previous,
            "since": change.since.isoformat(),
            "needs": needs,
            "capacity": capacity,
            "reason": change.reason,
            "policy_version": policy_version,
        },
    )


def _history_row(
    session: AsyncSession,
    employee_id: uuid.UUID,
    change: Change,
    policy_version: int,
    detail: dict[str, Any],
    *,
    as_of: dt.date | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    clock = session_clock(session)
    return {
        "employee_id": employee_id,
        "stage": change.stage,
        "previous_stage": change.previous,
        "since": change.since,
        "reason": change.reason,
        "kind": kind or KIND_OF_REASON[change.reason],
        "as_of": as_of or clock.today(),
        "policy_version": policy_version,
        "detail": detail,
        # The business time: in a simulation the history reads as the simulated days.
        "recorded_at": clock.now(),
    }


async def evaluate_rows(
    *,
    session: AsyncSession,
    employees: Sequence[Any],
    as_of: dt.date,
    record: bool,
    scheduled: bool = False,
    now: dt.datetime | None = None,
) -> list[Outcome]:
    """Evaluate `employees` (rows with id, org_unit_path, capacity): signals
    in one statement per policy currency, rules in memory, and - when
    `record` - the state, history and events written in bulk. Only a
    `scheduled` evaluation (the daily round) moves a dwell and confirms;
    others refresh the explanation and the provisional stage."""
    now = now or session_clock(session).now()
    if not employees:
        return []
    policies = await policies_for(session, {e.org_unit_path for e in employees})
    by_currency: dict[str, list[uuid.UUID]] = defaultdict(list)
    for e in employees:
        by_currency[policies[e.org_unit_path].currency].append(e.id)
    signals: dict[uuid.UUID, dict[str, float | None]] = {}
    for currency, ids in by_currency.items():
        signals.update(await signals_repository.signals_for(session, ids, as_of=as_of, currency=currency))
    states = await repository.states_for_update(session, [e.id for e in employees]) if record else {}

    outcomes, state_rows, history_rows, events = [], [], [], []
    for e in employees:
        policy = policies[e.org_unit_path]
        evaluation = engine.evaluate(policy, signals[e.id])
        step: Step | None = None
        if not record:
            stage, since = evaluation.stage, None
        else:
            prior = states.get(e.id)
            step = lifecycle.advance(
                state_from_row(prior), evaluation.stage, on=as_of, scheduled=scheduled, dwell=policy.dwell, now=now
            )
            stage, since = step.state.effective(now)  # type: ignore[assignment]
        needs = engine.needs(stage, evaluation.signals, policy.needs)
        outcome = Outcome(
            e.id,
            as_of,
            stage,
            since,
            evaluation,
            policy,
            needs,
            engine.gap(policy, evaluation, stage),
            step.state if step is not None else None,
            step,
            record,
            scheduled,
        )
        outcomes.append(outcome)
        if step is None:
            continue
        new_state = step.state
        prior = states.get(e.id)
        state_rows.append(
            {
                "employee_id": e.id,
                "stage": new_state.stage,
                "stage_since": new_state.since,
                "candidate_stage": new_state.candidate,
                "candidate_since": new_state.candidate_since,
                "candidate_days": new_state.candidate_days,
                "last_counted_on": new_state.last_counted_on,
                "provisional_stage": new_state.provisional,
                "provisional_since": new_state.provisional_since,
                "override_stage": new_state.override_stage,
                "override_since": new_state.override_since,
                "override_expires_at": new_state.override_expires_at,
                "override_reason": prior.override_reason if prior is not None and new_state.override_stage else None,
                "override_by": prior.override_by if prior is not None and new_state.override_stage else None,
                "needs": needs,
                "policy_version": policy.version,
                "last_as_of": as_of,
                "evaluated_at": now,
                "explanation": outcome.explanation(),
            }
        )
        if step.change is None and step.confirmed is None and step.provisional is None:
            continue
        en, zh = engine.reasons(evaluation)
        detail = {
            "as_of": as_of.isoformat(),
            "decided_by": evaluation.decided_by,
            "reasons": {"en": en, "zh": zh},
            "scheduled": scheduled,
        }
        if step.change is not None:
            history_rows.append(_history_row(session, e.id, step.change, policy.version, detail, as_of=as_of))
            events.append(stage_changed_event(e.id, e.org_unit_path, e.capacity, step.change, needs, policy.version))
        if step.confirmed is not None and (step.change is None or step.change.reason != EVALUATION):
            # Confirmed while an override hides it (or as the override ended): kept, not published.
            hidden = {**detail, "hidden_by_override": step.change is None}
            history_rows.append(
                _history_row(session, e.id, step.confirmed, policy.version, hidden, as_of=as_of, kind=CONFIRMED)
            )
        if step.provisional is not None:
            history_rows.append(
                _history_row(session, e.id, step.provisional, policy.version, detail, as_of=as_of, kind=PROVISIONAL)
            )
    if record:
        await repository.save_states(session, state_rows)
        await repository.add_history(session, history_rows)
        await publish_many(session, events)
    return outcomes


def _visible(principal: Principal) -> Any:
    return employees_repository.visible(principal)


async def evaluate_one(
    *, session: AsyncSession, principal: Principal, employee_id: uuid.UUID, as_of: dt.date | None, record: bool
) -> Outcome:
    # Visibility first: someone you may not see is 404, not a 403 that says they exist.
    rows = await repository.employees_for_evaluation(session, visible=_visible(principal), ids=[employee_id])
    if not rows:
        raise NotFound(f"Employee {employee_id} was not found (or is inactive).")
    if record and principal.employee_id != employee_id:
        require_roles(principal, "manager", *ADMIN_ROLES)
    as_of = as_of or session_clock(session).today()
    return (await evaluate_rows(session=session, employees=rows, as_of=as_of, record=record))[0]


async def evaluate_many(
    *,
    session: AsyncSession,
    principal: Principal,
    employee_ids: Sequence[uuid.UUID] | None,
    org_unit: str | None,
    as_of: dt.date | None,
    record: bool,
) -> tuple[list[Outcome], list[uuid.UUID]]:
    """A list of employees or a whole unit; returns the outcomes and the ids not found."""
    if record:
        require_roles(principal, "manager", *ADMIN_ROLES)
    within = path_within(Employee.org_unit_path, org_unit) if org_unit else None
    rows = await repository.employees_for_evaluation(
        session, visible=_visible(principal), ids=employee_ids, within=within
    )
    found = {r.id for r in rows}
    missing = [i for i in dict.fromkeys(employee_ids or []) if i not in found]
    as_of = as_of or session_clock(session).today()
    outcomes = await evaluate_rows(session=session, employees=rows, as_of=as_of, record=record)
    return outcomes, missing


async def get_state(*, session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> Any:
    """The stage row inside a session. `GET .../stage` reads through
    `reads.stage_of` instead (one statement, no transaction); tests check the two agree."""
    if await employees_repository.get_visible(session, principal, employee_id) is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    row = await repository.state_of(session, employee_id)
    if row is None:
        raise NotFound(f"Employee {employee_id} has not been evaluated yet.", code="not_evaluated")
    return row


async def _override_target(session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> tuple[Employee, Any]:
    # Visibility first: someone else's record is 404 to a rep, not a 403 that
    # tells them it exists.
    employee = await employees_repository.get_visible(session, principal, employee_id)
    if employee is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    # An override is a person's judgement with a reason: managers and admins,
    # not an integration's key.
    require_roles(principal, *OVERRIDING_ROLES)
    if employee.id == principal.employee_id:
        raise Forbidden("You cannot override your own stage.")
    row = await repository.state_of(session, employee_id, lock=True)
    if row is None:
        raise Conflict(
            f"Employee {employee_id} has not been evaluated yet; evaluate before overriding.", code="not_evaluated"
        )
    return employee, row


async def set_override(
    *,
    session: AsyncSession,
    principal: Principal,
    employee_id: uuid.UUID,
    stage: str,
    reason: str,
    expires_at: dt.datetime,
) -> Any:
    now = session_clock(session).now()
    if expires_at <= now:
        raise Unprocessable(
            "The override must expire in the future.",
            errors=[{"loc": ["body", "expires_at"], "msg": "must be in the future"}],
        )
    employee, row = await _override_target(session, principal, employee_id)
    new, change = lifecycle.set_override(state_from_row(row), stage, on=now.date(), expires_at=expires_at, now=now)
    values = {
        "override_stage": stage,
        "override_since": new.override_since,
        "override_expires_at": expires_at,
        "override_reason": reason,
        "override_by": principal.subject,
    }
    await _apply_override(session, employee, row, values, change, {"reason_text": reason, "by": principal.subject})
    return await repository.state_of(session, employee_id)


async def remove_override(*, session: AsyncSession, principal: Principal, employee_id: uuid.UUID) -> None:
    now = session_clock(session).now()
    employee, row = await _override_target(session, principal, employee_id)
    if row.override_stage is None:
        raise NotFound(f"Employee {employee_id} has no override.")
    _, change = lifecycle.remove_override(state_from_row(row), on=now.date(), now=now)
    values = {
        "override_stage": None,
        "override_since": None,
        "override_expires_at": None,
        "override_reason": None,
        "override_by": None,
    }
    await _apply_override(session, employee, row, values, change, {"removed_by": principal.subject})


async def _apply_override(
    session: AsyncSession,
    employee: Employee,
    row: Any,
    values: dict[str, Any],
    change: Change | None,
    detail: dict[str, Any],
) -> None:
    await repository.update_state(session, employee.id, values)
    if change is not None:
        await repository.add_history(session, [_history_row(session, employee.id, change, row.policy_version, detail)])
        await publish_many(
            session,
            [
                stage_changed_event(
                    employee.id, employee.org_unit_path, employee.capacity, change, list(row.needs), row.policy_version
                )
            ],
        )


async def lift_expired_overrides(*, session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Lift overrides whose expiry has passed; publish the change where the
    effective stage moves. Run on a schedule and before evaluations."""
    now = now or session_clock(session).now()
    rows = await repository.expired_overrides(session, now=now)
    history, events = [], []
    for row in rows:
        _, change = lifecycle.lift_expired(state_from_row(row), now=now)
        if change is not None:
            history.append(
                _history_row(
                    session, row.employee_id, change, row.policy_version, {"expired_at": str(row.override_expires_at)}
                )
            )
            events.append(
                stage_changed_event(
                    row.employee_id, row.org_unit_path, row.capacity, change, list(row.needs), row.policy_version
                )
            )
    if rows:
        await repository.clear_overrides(session, [r.employee_id for r in rows])
        await repository.add_history(session, history)
        await publish_many(session, events)
    return len(rows)


@dataclass(frozen=True, slots=True)
class StageSnapshot:
    employee_id: uuid.UUID
    stage: str | None
    stage_since: dt.date | None
    capacity: int
    open_load: int
    needs: list[str]


async def batch_get(
    *, session: AsyncSession, principal: Principal, employee_ids: Sequence[uuid.UUID]
) -> tuple[list[StageSnapshot], list[uuid.UUID]]:
    """The batch read inside a session. `POST .../stages:batch-get` reads through
    `reads.snapshots` instead (one statement, no transaction); tests check the two agree."""
    now = session_clock(session).now()
    rows = await repository.batch_read(session, employee_ids, _visible(principal))
    load = await signals_repository.open_load(session, [r.id for r in rows], as_of=now.date())
    items = []
    for r in rows:
        state = StageState(
            stage=r.stage,
            since=r.stage_since,
            override_stage=r.override_stage,
            override_since=r.override_since,
            override_expires_at=r.override_expires_at,
        )
        stage, since = state.effective(now)
        items.append(StageSnapshot(r.id, stage, since, r.capacity, load.get(r.id, 0), list(r.needs or [])))
    found = {r.id for r in rows}
    return items, [i for i in dict.fromkeys(employee_ids) if i not in found]
