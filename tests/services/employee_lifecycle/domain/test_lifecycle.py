"""Hysteresis, demotion and overrides, without a database."""

import datetime as dt

from services.employee_lifecycle.domain.catalog import L1, L2, L3
from services.employee_lifecycle.domain.lifecycle import StageState, advance, lift_expired, set_override

NOW = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
D1, D2, D3 = dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 3)


def test_first_evaluation_sets_the_stage():
    state, change = advance(StageState(), L2, on=D1, required=2, now=NOW)
    assert (state.stage, state.since) == (L2, D1)
    assert change is not None and (change.stage, change.previous, change.reason) == (L2, None, "evaluation")


def test_a_single_disagreeing_evaluation_does_not_flap():
    state, _ = advance(StageState(), L2, on=D1, required=2, now=NOW)
    state, change = advance(state, L3, on=D2, required=2, now=NOW)
    assert change is None and state.stage == L2 and (state.candidate, state.candidate_count) == (L3, 1)
    state, change = advance(state, L2, on=D3, required=2, now=NOW)
    assert change is None and state.candidate is None and state.since == D1


def test_two_agreeing_evaluations_promote():
    state, _ = advance(StageState(), L2, on=D1, required=2, now=NOW)
    state, _ = advance(state, L3, on=D2, required=2, now=NOW)
    state, change = advance(state, L3, on=D3, required=2, now=NOW)
    assert state.stage == L3 and state.since == D3
    assert change is not None and (change.previous, change.stage) == (L2, L3)


def test_demotion_needs_agreement_too():
    state = StageState(stage=L3, since=D1)
    state, change = advance(state, L1, on=D2, required=2, now=NOW)
    assert change is None and state.stage == L3
    state, change = advance(state, L1, on=D3, required=2, now=NOW)
    assert change is not None and (change.previous, change.stage) == (L3, L1)


def test_override_hides_evaluation_until_it_expires():
    state = StageState(stage=L1, since=D1)
    expires = NOW + dt.timedelta(days=30)
    state, change = set_override(state, L2, on=D2, expires_at=expires, now=NOW)
    assert change is not None and (change.stage, change.reason) == (L2, "override")
    state, change = advance(state, L1, on=D3, required=2, now=NOW)
    assert change is None and state.effective(NOW) == (L2, D2)
    later = expires + dt.timedelta(seconds=1)
    state, change = advance(state, L1, on=D3, required=2, now=later)
    assert state.override_stage is None and state.effective(later)[0] == L1
    assert change is not None and (change.previous, change.stage, change.reason) == (L2, L1, "override_expired")


def test_lifting_an_expired_override_to_the_same_stage_says_nothing():
    state = StageState(stage=L2, since=D1, override_stage=L2, override_since=D2, override_expires_at=NOW)
    state, change = lift_expired(state, now=NOW + dt.timedelta(seconds=1))
    assert change is None and state.override_stage is None
