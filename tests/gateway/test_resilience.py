"""The circuit breaker as a pure state machine (a fake clock: plain numbers)
and the bulkhead."""

import asyncio

import pytest

from gateway.resilience import Breakers, Bulkhead, Busy, CircuitBreaker


def test_breaker_opens_after_threshold_failures_in_a_row():
    b = CircuitBreaker(threshold=3, open_seconds=5)
    b.failure(0)
    b.failure(0)
    b.success()  # a success resets the count
    assert b.failures == 0
    b.failure(1)
    b.failure(1)
    assert b.allow(1) and b.state == "closed"
    b.failure(1)
    assert b.state == "open" and not b.allow(2)
    assert b.retry_after(2) == 4


def test_only_failures_within_the_window_open_it():
    b = CircuitBreaker(threshold=3, window_seconds=10, open_seconds=5)
    # Isolated failures over a day never open it, however many.
    for hour in range(24):
        b.failure(hour * 3600.0)
    assert b.state == "closed"
    # Three in a row but spread over more than the window: still closed.
    b = CircuitBreaker(threshold=3, window_seconds=10, open_seconds=5)
    for t in (0, 6, 12):
        b.failure(t)
    assert b.state == "closed"
    # The window slides: the last three (6, 12, 15) are within 10 s.
    b.failure(15)
    assert b.state == "open"


def test_any_success_resets_the_count_even_just_before_the_threshold():
    b = CircuitBreaker(threshold=5, window_seconds=10, open_seconds=5)
    for i in range(100):
        for _ in range(4):
            b.failure(i * 0.01)
        b.success()
    assert b.state == "closed" and b.failures == 0


def test_open_refuses_until_open_seconds_then_one_trial():
    b = CircuitBreaker(threshold=1, window_seconds=10, open_seconds=5)
    b.failure(100)
    assert b.state == "open"
    assert not b.allow(104.9)
    assert b.retry_after(104.9) == 1 and b.retry_after(100) == 5
    assert b.state_at(104.9) == "open" and b.state_at(105) == "half_open"
    assert b.allow(105) and b.state == "half_open"
    # One trial at a time: every other call is refused while it is in flight.
    assert not b.allow(105.1) and not b.allow(106)


def test_a_successful_trial_closes_it():
    b = CircuitBreaker(threshold=2, window_seconds=10, open_seconds=5)
    b.failure(0)
    b.failure(1)
    assert b.allow(6)
    b.success()
    assert b.state == "closed" and b.allow(6.1) and b.allow(6.1)
    # Closed afresh: one failure is not enough to open it again.
    b.failure(7)
    assert b.state == "closed"


def test_a_failed_trial_opens_it_again_for_open_seconds():
    b = CircuitBreaker(threshold=1, open_seconds=5)
    b.failure(0)
    assert b.allow(5) and b.state == "half_open"
    b.failure(5.2)
    assert b.state == "open" and not b.allow(9)
    assert b.retry_after(9) == 2
    assert b.allow(10.5)
    b.success()
    assert b.state == "closed"


def test_a_trial_that_never_reports_is_given_up_on():
    b = CircuitBreaker(threshold=1, open_seconds=2)
    b.failure(0)
    assert b.allow(2)
    assert not b.allow(3)
    assert b.allow(4.1)


def test_a_neutral_trial_lets_the_next_call_be_the_trial():
    b = CircuitBreaker(threshold=1, open_seconds=5)
    b.failure(0)
    assert b.allow(5)
    b.neutral()  # e.g. the caller's body was over the limit
    assert b.state == "half_open"
    assert b.allow(5.1) and not b.allow(5.2)
    # Neutral outcomes change nothing while closed.
    closed = CircuitBreaker(threshold=2, open_seconds=5)
    closed.failure(0)
    closed.neutral()
    closed.failure(0)
    assert closed.state == "open"


def test_late_answers_while_open_change_nothing():
    b = CircuitBreaker(threshold=1, open_seconds=5)
    b.failure(0)
    b.success()  # a call sent before it opened answers late
    assert b.state == "open" and not b.allow(1)
    b.failure(4)  # nor does a late failure push the trial back
    assert b.allow(5)


def test_one_breaker_per_service():
    breakers = Breakers(["a", "b"], threshold=1, open_seconds=5)
    breakers["a"].failure(0)
    assert breakers.states() == {"a": "open", "b": "closed"}
    assert breakers.states(6) == {"a": "half_open", "b": "closed"}
    assert breakers.names() == ["a", "b"]


async def test_bulkhead_limits_in_flight_and_queues_in_order():
    bulkhead = Bulkhead(limit=2, queue_max=2)
    assert bulkhead.try_acquire() and bulkhead.try_acquire()
    assert not bulkhead.try_acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        await bulkhead.acquire(5)
        order.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    assert bulkhead.waiting == 2
    # The queue is full: a third waiter is refused at once.
    with pytest.raises(Busy):
        await bulkhead.acquire(5)
    bulkhead.release()
    bulkhead.release()
    await asyncio.gather(*waiters)
    assert order == [1, 2] and bulkhead.active == 2 and bulkhead.waiting == 0
    bulkhead.release()
    bulkhead.release()
    assert bulkhead.active == 0


async def test_bulkhead_wait_is_bounded_and_a_timed_out_waiter_leaves_the_queue():
    bulkhead = Bulkhead(limit=1, queue_max=5)
    assert bulkhead.try_acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Busy):
        await bulkhead.acquire(0.05)
    assert 0.04 < loop.time() - started < 1
    assert bulkhead.waiting == 0
    bulkhead.release()
    assert bulkhead.active == 0
    assert bulkhead.try_acquire()


async def test_bulkhead_cancelled_waiter_does_not_leak_a_slot():
    bulkhead = Bulkhead(limit=1, queue_max=5)
    assert bulkhead.try_acquire()
    task = asyncio.create_task(bulkhead.acquire(5))
    await asyncio.sleep(0)
    bulkhead.release()  # hands the slot to the waiter ...
    task.cancel()  # ... which is cancelled before it runs: the slot comes back
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bulkhead.active == 0 and bulkhead.waiting == 0
