"""Hysteresis and overrides: when a computed stage becomes the stage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

EVALUATION, OVERRIDE, OVERRIDE_EXPIRED = "evaluation", "override", "override_expired"


@dataclass(frozen=True, slots=True)
class StageState:
    stage: str | None = None
    since: dt.date | None = None
    candidate: str | None = None
    candidate_count: int = 0
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


@dataclass(frozen=True, slots=True)
class Change:
    """The effective stage moved: what `employee.stage_changed` says."""

    stage: str
    previous: str | None
    since: dt.date
    reason: str


def lift_expired(state: StageState, *, now: dt.datetime) -> tuple[StageState, Change | None]:
    if state.override_stage is None or state.override_active(now):
        return state, None
    if state.override_expires_at is None:  # an override without expiry is always active
        raise RuntimeError("an inactive override must have an expiry")
    new = replace(state, override_stage=None, override_since=None, override_expires_at=None)
    if new.stage is None or new.stage == state.override_stage:
        return new, None
    return new, Change(new.stage, state.override_stage, state.override_expires_at.date(), OVERRIDE_EXPIRED)


def advance(
    state: StageState, computed: str, *, on: dt.date, required: int, now: dt.datetime
) -> tuple[StageState, Change | None]:
    """Apply one evaluation. The first one sets the stage; after that a new
    stage takes effect only when `required` consecutive evaluations agree.
    An override in force hides the change; an expired one is lifted first."""
    state, lifted = lift_expired(state, now=now)
    before = state.announced
    if state.stage is None:
        new = replace(state, stage=computed, since=on, candidate=None, candidate_count=0)
    elif computed == state.stage:
        new = replace(state, candidate=None, candidate_count=0)
    else:
        count = state.candidate_count + 1 if state.candidate == computed else 1
        if count >= required:
            new = replace(state, stage=computed, since=on, candidate=None, candidate_count=0)
        else:
            new = replace(state, candidate=computed, candidate_count=count)
    after, since = new.effective(now)
    if after is None or after == before:
        return new, lifted
    if since is None:  # a stage, overridden or not, always has the date it took effect
        raise RuntimeError(f"effective stage {after!r} has no since date")
    if lifted is not None:  # the override ended and the evaluation moved on: one change, from the override
        return new, Change(after, lifted.previous, lifted.since, OVERRIDE_EXPIRED)
    return new, Change(after, before, since, EVALUATION)


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
