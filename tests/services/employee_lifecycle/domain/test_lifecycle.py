"""Confirmation by time, provisional stages and overrides, without a database."""

import datetime as dt

from services.employee_lifecycle.domain.catalog import L1, L2, L3
from services.employee_lifecycle.domain.lifecycle import (
    Dwell,
    StageState,
    Step,
    advance,
    lift_expired,
    set_override,
)

NOW = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
D0 = dt.date(2026, 1, 1)
DWELL = Dwell(days=14, distinct_days=2)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def scheduled(state: StageState, computed: str, n: int, *, dwell: Dwell = DWELL, now: dt.datetime = NOW) -> Step:
    return advance(state, computed, on=day(n), scheduled=True, dwell=dwell, now=now)


def event(state: StageState, computed: str, n: int, *, now: dt.datetime = NOW) -> Step:
    return advance(state, computed, on=day(n), scheduled=False, dwell=DWELL, now=now)


def rounds(state: StageState, computed: str, days: range) -> tuple[StageState, list[Step]]:
    steps = []
    for n in days:
        step = scheduled(state, computed, n)
        state = step.state
        steps.append(step)
    return state, steps


def test_first_evaluation_sets_the_stage_whatever_its_kind():
    for step in (scheduled(StageState(), L2, 0), event(StageState(), L2, 0)):
        assert (step.state.stage, step.state.since) == (L2, D0)
        assert step.change is not None and (step.change.stage, step.change.previous, step.change.reason) == (
            L2,
            None,
            "evaluation",
        )
        assert step.confirmed == step.change and step.provisional is None


def test_a_change_is_confirmed_only_after_the_dwell():
    state = StageState(stage=L2, since=D0)
    state, steps = rounds(state, L1, range(1, 15))  # days 1..14: 13 days after the first
    assert all(s.change is None for s in steps) and state.stage == L2
    assert (state.candidate, state.candidate_since, state.candidate_days) == (L1, day(1), 14)
    assert state.confirm_on(DWELL) == day(15)
    assert state.provisional == L1 and state.provisional_since == day(1)
    step = scheduled(state, L1, 15)
    assert step.change is not None and (step.change.previous, step.change.stage, step.change.since) == (L2, L1, day(15))
    assert step.state.candidate is None and step.state.provisional is None


def test_missed_rounds_do_not_block_but_distinct_days_are_needed():
    state = StageState(stage=L2, since=D0)
    step = scheduled(state, L3, 1)
    # the next round only three weeks later: two distinct days, dwell over
    step = scheduled(step.state, L3, 22)
    assert step.change is not None and step.state.stage == L3
    # one day alone never confirms, however long ago it was
    one_day = Dwell(days=0, distinct_days=2)
    step = scheduled(StageState(stage=L2, since=D0), L3, 1, dwell=one_day)
    assert step.change is None and step.state.candidate == L3


def test_a_day_on_the_confirmed_stage_clears_the_candidate():
    state = StageState(stage=L2, since=D0)
    state, _ = rounds(state, L1, range(1, 10))
    step = scheduled(state, L2, 10)
    assert step.state.candidate is None and step.state.candidate_days == 0 and step.state.provisional is None
    assert step.provisional is not None and (step.provisional.previous, step.provisional.stage) == (L1, L2)
    # the dwell starts afresh
    state, steps = rounds(step.state, L1, range(11, 25))
    assert all(s.change is None for s in steps) and state.candidate_since == day(11)


def test_the_other_direction_restarts_the_dwell():
    state = StageState(stage=L2, since=D0)
    state, _ = rounds(state, L1, range(1, 10))
    step = scheduled(state, L3, 10)
    assert (step.state.candidate, step.state.candidate_since, step.state.candidate_days) == (L3, day(10), 1)


def test_a_second_round_on_the_same_day_counts_nothing():
    state = StageState(stage=L2, since=D0)
    first = scheduled(state, L1, 1)
    again = scheduled(first.state, L1, 1)
    assert again.counted is False and again.state == first.state
    # nor does one that computes something else that day
    other = scheduled(first.state, L2, 1)
    assert other.state.candidate == L1 and other.state.candidate_days == 1
    # a clock moved back counts nothing either
    back = scheduled(first.state, L1, 0)
    assert back.counted is False and back.state.candidate_days == 1


def test_event_triggered_evaluations_never_move_the_dwell_nor_confirm():
    state = StageState(stage=L2, since=D0)
    for n in range(40):
        for computed in (L1, L3, L1, L1):
            step = event(state, computed, n)
            assert step.change is None and step.confirmed is None and step.counted is False
            state = step.state
    assert state.stage == L2 and state.candidate is None and state.candidate_days == 0
    assert state.provisional == L1


def test_provisional_follows_every_evaluation_and_is_recorded_when_it_moves():
    state = StageState(stage=L2, since=D0)
    step = event(state, L1, 1)
    assert step.state.provisional == L1 and step.provisional is not None
    assert (step.provisional.previous, step.provisional.stage) == (L2, L1)
    same = event(step.state, L1, 2)
    assert same.provisional is None and same.state.provisional_since == day(1)
    back = event(same.state, L2, 3)
    assert back.state.provisional is None and back.provisional is not None and back.provisional.stage == L2


def test_further_in_the_same_direction_confirms_one_step_at_a_time():
    state = StageState(stage=L3, since=D0)
    state, _ = rounds(state, L2, range(1, 14))
    assert state.candidate == L2
    state, _ = rounds(state, L1, range(14, 15))  # further down: the dwell keeps running, towards L2
    assert (state.candidate, state.candidate_since) == (L2, day(1))
    step = scheduled(state, L1, 15)  # dwell over on an L1 day: L3 -> L2, not L1
    assert step.change is not None and (step.change.previous, step.change.stage) == (L3, L2)
    # today's L1 already counts towards the next step
    assert (step.state.candidate, step.state.candidate_since, step.state.candidate_days) == (L1, day(15), 1)
    assert step.state.provisional == L1
    state, steps = rounds(step.state, L1, range(16, 30))
    assert [s.change.stage for s in steps if s.change] == [L1] and state.since == day(29)


def test_a_single_odd_day_at_the_end_of_a_dwell_takes_the_closest_stage():
    state = StageState(stage=L3, since=D0)
    state, _ = rounds(state, L1, range(1, 3))  # L1 from the start ...
    state, _ = rounds(state, L2, range(3, 15))  # ... then L2: the closest seen
    step = scheduled(state, L2, 15)
    assert step.state.stage == L2


def test_sustained_two_step_change_confirms_after_the_dwell():
    state = StageState(stage=L3, since=D0)
    state, steps = rounds(state, L1, range(1, 16))
    assert [s.change.stage for s in steps if s.change] == [L1]


def test_zero_day_dwell_confirms_on_the_distinct_days_alone():
    dwell = Dwell(days=0, distinct_days=2)
    step = scheduled(StageState(stage=L1, since=D0), L2, 1, dwell=dwell)
    assert step.change is None
    step = scheduled(step.state, L2, 2, dwell=dwell)
    assert step.change is not None and step.state.stage == L2


def test_override_during_a_dwell_hides_the_confirmation_until_it_expires():
    state = StageState(stage=L2, since=D0)
    expires = NOW + dt.timedelta(days=60)
    state, change = set_override(state, L3, on=day(1), expires_at=expires, now=NOW)
    assert change is not None and (change.stage, change.reason) == (L3, "override")
    state, steps = rounds(state, L1, range(2, 17))
    confirmed = [s for s in steps if s.confirmed]
    assert len(confirmed) == 1 and confirmed[0].change is None  # confirmed, hidden, not published
    assert state.stage == L1 and state.effective(NOW) == (L3, day(1))
    later = expires + dt.timedelta(seconds=1)
    step = scheduled(state, L1, 80, now=later)
    assert step.state.override_stage is None and step.state.effective(later)[0] == L1
    assert step.change is not None and (step.change.previous, step.change.stage, step.change.reason) == (
        L3,
        L1,
        "override_expired",
    )


def test_lifting_an_expired_override_to_the_same_stage_says_nothing():
    state = StageState(stage=L2, since=D0, override_stage=L2, override_since=day(1), override_expires_at=NOW)
    state, change = lift_expired(state, now=NOW + dt.timedelta(seconds=1))
    assert change is None and state.override_stage is None
