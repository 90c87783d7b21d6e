"""Confirmation by time and overrides: when a computed stage becomes the stage.

A person's first evaluation sets the stage. After that a different computed
stage is only *provisional* until it has held for a minimum dwell across
**scheduled** evaluations on distinct business days:

- the candidate starts on the first scheduled day that computes a stage other
  than the confirmed one (`candidate_since`);
- each later scheduled day counts once (a second round on the same day, or an
  event-triggered evaluation, changes nothing in the dwell);
- a scheduled day that computes the confirmed stage clears the candidate; one
  that computes a stage in the other direction starts a new candidate;
- the change is confirmed on the first scheduled day on or after
  `candidate_since + confirm_after_days` that still agrees, once at least
  `distinct_days` (the policy's `hysteresis`) scheduled days have agreed;
- when the computed stage moves further in the same direction during the
  dwell, the dwell keeps running but confirms only the stage closest to the
  confirmed one seen during it (L3 -> L2, never L3 -> L1 on one L1 day).

Event-triggered evaluations only refresh the `provisional` stage: the stage
the latest evaluation computed, when it differs from the confirmed one.
A manager's override hides the confirmed stage until it expires.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from services.employee_lifecycle.domain.catalog import RANK

EVALUATION, OVERRIDE, OVERRIDE_EXPIRED = "evaluation", "override", "override_expired"
# What a history row records (`kind`): a confirmed change of the evaluated
# stage, a move of the provisional stage, or an override set/removed/expired.
CONFIRMED, PROVISIONAL = "confirmed", "provisional"
KIND_OF_REASON = {EVALUATION: CONFIRMED, OVERRIDE: OVERRIDE, OVERRIDE_EXPIRED: OVERRIDE_EXPIRED}

DEFAULT_CONFIRM_AFTER_DAYS = 14
DEFAULT_DISTINCT_DAYS = 2


@dataclass(frozen=True, slots=True)
class Dwell:
    """How long a new stage must hold before it is confirmed."""

    days: int = DEFAULT_CONFIRM_AFTER_DAYS  # the policy's confirm_after_days
    distinct_days: int = DEFAULT_DISTINCT_DAYS  # the policy's hysteresis: scheduled days that must agree


@dataclass(frozen=True, slots=True)
class StageState:
    stage: str | None = None
    since: dt.date | None = None
    candidate: str | None = None
    candidate_since: dt.date | None = None
    candidate_days: int = 0
    last_counted_on: dt.date | None = None
    provisional: str | None = None
    provisional_since: dt.date | None = None
    override_stage: str | None = None
    override_since: dt.date | None = None
    override_expires_at: dt.datetime | None = None

    def override_active(self, now: dt.datetime) -> bool:
        return self.override_stage is not None and (self.override_expires_at is None or self.override_expires_at > now)

    def effective(self, now: dt.datetime) -> tuple[str | None, dt.date | None]:
        if self.override_active(now):
            return self.override_stage, self.override_since
        return self.stage, self.since

    @property
    def announced(self) -> str | None:
        """The effective stage as last published (an expired override still
        counts until it is lifted, which publishes the change)."""
        return self.override_stage or self.stage

    @property
    def latest(self) -> str | None:
        """The stage the latest evaluation computed."""
        return self.provisional or self.stage

    def confirm_on(self, dwell: Dwell) -> dt.date | None:
        """The earliest day a scheduled evaluation may confirm the candidate."""
        if self.candidate_since is None:
            return None
        return self.candidate_since + dt.timedelta(days=dwell.days)


@dataclass(frozen=True, slots=True)
class Change:
    """A stage moved: the effective one (what `employee.stage_changed` says),
    the confirmed one, or the provisional one."""

    stage: str
    previous: str | None
    since: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class Step:
    """What one evaluation did."""

    state: StageState
    change: Change | None = None  # the effective stage moved: history and `employee.stage_changed`
    confirmed: Change | None = None  # the evaluated stage was confirmed (also when an override hides it)
    provisional: Change | None = None  # the provisional stage moved: history only
    counted: bool = False  # a scheduled evaluation counted this day toward the dwell


def lift_expired(state: StageState, *, now: dt.datetime) -> tuple[StageState, Change | None]:
    if state.override_stage is None or state.override_active(now):
        return state, None
    if state.override_expires_at is None:  # an override without expiry is always active
        raise RuntimeError("an inactive override must have an expiry")
    new = replace(state, override_stage=None, override_since=None, override_expires_at=None)
    if new.stage is None or new.stage == state.override_stage:
        return new, None
    return new, Change(new.stage, state.override_stage, state.override_expires_at.date(), OVERRIDE_EXPIRED)


def _direction(frm: str, to: str) -> int:
    return (RANK[to] > RANK[frm]) - (RANK[to] < RANK[frm])


def _no_candidate(state: StageState) -> StageState:
    return replace(state, candidate=None, candidate_since=None, candidate_days=0)


def count_day(state: StageState, computed: str, *, on: dt.date, dwell: Dwell) -> StageState:
    """One scheduled business day (not counted before) on a confirmed stage:
    extend, restart or clear the candidate, and confirm when the dwell is over."""
    if state.stage is None:
        raise RuntimeError("count_day needs a confirmed stage")
    stage = state.stage
    if computed == stage:
        return replace(_no_candidate(state), last_counted_on=on)
    direction = _direction(stage, computed)
    if (
        state.candidate is not None
        and state.candidate_since is not None
        and _direction(stage, state.candidate) == direction
    ):
        # Same direction: the dwell keeps running, towards the closest stage seen.
        closest = (
            computed
            if abs(RANK[computed] - RANK[stage]) < abs(RANK[state.candidate] - RANK[stage])
            else state.candidate
        )
        new = replace(state, candidate=closest, candidate_days=state.candidate_days + 1, last_counted_on=on)
    else:
        new = replace(state, candidate=computed, candidate_since=on, candidate_days=1, last_counted_on=on)
    confirm_on = new.confirm_on(dwell)
    if new.candidate is None or confirm_on is None or new.candidate_days < dwell.distinct_days or on < confirm_on:
        return new
    confirmed = replace(_no_candidate(new), stage=new.candidate, since=on)
    if computed != confirmed.stage:
        # Further in the same direction: today already counts towards the next step.
        return replace(confirmed, candidate=computed, candidate_since=on, candidate_days=1)
    return confirmed


def advance(state: StageState, computed: str, *, on: dt.date, scheduled: bool, dwell: Dwell, now: dt.datetime) -> Step:
    """Apply one evaluation as of `on`. The first one sets the stage (any
    kind); after that only a scheduled evaluation on a business day not yet
    counted moves the dwell, and any evaluation refreshes the provisional
    stage. An override in force hides a confirmed change; an expired one is
    lifted first."""
    state, lifted = lift_expired(state, now=now)
    before = state.announced
    confirmed: Change | None = None
    provisional: Change | None = None
    counted = False
    if state.stage is None:
        new = replace(
            _no_candidate(state),
            stage=computed,
            since=on,
            last_counted_on=on if scheduled else None,
            provisional=None,
            provisional_since=None,
        )
        confirmed = Change(computed, None, on, EVALUATION)
        counted = scheduled
    else:
        new = state
        if scheduled and (state.last_counted_on is None or on > state.last_counted_on):
            counted = True
            new = count_day(state, computed, on=on, dwell=dwell)
            if new.stage != state.stage and new.stage is not None:
                confirmed = Change(new.stage, state.stage, on, EVALUATION)
        if computed == new.stage:
            new = replace(new, provisional=None, provisional_since=None)
        elif computed != state.provisional:
            new = replace(new, provisional=computed, provisional_since=on)
        if computed != state.latest and not (confirmed is not None and computed == new.stage):
            provisional = Change(computed, state.latest, on, EVALUATION)
    after, since = new.effective(now)
    change: Change | None = None
    if after is not None and after != before:
        if since is None:  # a stage, overridden or not, always has the date it took effect
            raise RuntimeError(f"effective stage {after!r} has no since date")
        if lifted is None:
            change = Change(after, before, since, EVALUATION)
        elif after != lifted.previous:  # the override ended and the evaluation moved on: one change
            change = Change(after, lifted.previous, lifted.since, OVERRIDE_EXPIRED)
    elif lifted is not None:
        change = lifted
    return Step(new, change, confirmed, provisional, counted)


def set_override(
    state: StageState, stage: str, *, on: dt.date, expires_at: dt.datetime, now: dt.datetime
) -> tuple[StageState, Change | None]:
    before = state.effective(now)[0]
    new = replace(state, override_stage=stage, override_since=on, override_expires_at=expires_at)
    return new, (Change(stage, before, on, OVERRIDE) if stage != before else None)


def remove_override(state: StageState, *, on: dt.date, now: dt.datetime) -> tuple[StageState, Change | None]:
    before = state.effective(now)[0]
    new = replace(state, override_stage=None, override_since=None, override_expires_at=None)
    if new.stage is None or new.stage == before:
        return new, None
    return new, Change(new.stage, before, on, OVERRIDE)
