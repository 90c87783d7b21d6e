from gateway.resilience import Breakers, CircuitBreaker


def test_breaker_opens_after_threshold_failures_in_a_row():
    b = CircuitBreaker(threshold=3, open_seconds=5)
    b.failure(0)
    b.failure(0)
    b.success()  # a success resets the count
    b.failure(1)
    b.failure(1)
    assert b.allow(1) and b.state == "closed"
    b.failure(1)
    assert b.state == "open" and not b.allow(2)
    assert b.retry_after(2) == 4


def test_half_open_lets_one_trial_through_and_its_outcome_decides():
    b = CircuitBreaker(threshold=1, open_seconds=5)
    b.failure(0)
    assert b.allow(5) and b.state == "half_open"
    assert not b.allow(5.1)  # one trial at a time
    b.failure(5.2)
    assert b.state == "open" and not b.allow(9)
    assert b.allow(10.5)
    b.success()
    assert b.state == "closed" and b.allow(10.6) and b.allow(10.6)


def test_a_trial_that_never_reports_is_given_up_on():
    b = CircuitBreaker(threshold=1, open_seconds=2)
    b.failure(0)
    assert b.allow(2)
    assert not b.allow(3)
    assert b.allow(4.1)


def test_one_breaker_per_service():
    breakers = Breakers(["a", "b"], threshold=1, open_seconds=5)
    breakers["a"].failure(0)
    assert breakers.states() == {"a": "open", "b": "closed"}
