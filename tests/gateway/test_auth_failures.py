"""Failed authentication limited per client address (gateway.auth_failures):
the windows on a fake clock, and the address behind trusted proxies."""

from __future__ import annotations

import pytest

from gateway.auth_failures import AuthFailures, ClientAddress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 50000), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_the_limit_blocks_an_address_until_its_window_ends():
    clock = FakeClock()
    failures = AuthFailures(limit=3, window_seconds=60, clock=clock)
    assert not failures.active
    for _ in range(2):
        failures.failed("192.0.2.1")
        assert failures.retry_after("192.0.2.1") is None
    clock.now += 10
    failures.failed("192.0.2.1")
    assert failures.retry_after("192.0.2.1") == 50  # the window started with the first failure
    assert failures.retry_after("192.0.2.2") is None  # another address is not concerned
    clock.now += 49.5
    assert failures.retry_after("192.0.2.1") == 1
    clock.now += 0.5
    assert failures.retry_after("192.0.2.1") is None
    # A new window starts from nothing.
    failures.failed("192.0.2.1")
    assert failures.retry_after("192.0.2.1") is None


def test_failures_spread_wider_than_the_window_never_block():
    clock = FakeClock()
    failures = AuthFailures(limit=3, window_seconds=10, clock=clock)
    for _ in range(10):
        failures.failed("192.0.2.1")
        failures.failed("192.0.2.1")
        assert failures.retry_after("192.0.2.1") is None
        clock.now += 10


def test_the_store_is_bounded_and_forgets_the_oldest_windows_first():
    clock = FakeClock()
    failures = AuthFailures(limit=1, window_seconds=60, max_addresses=3, clock=clock)
    for i in range(5):
        failures.failed(f"192.0.2.{i}")
        clock.now += 1
    assert [failures.retry_after(f"192.0.2.{i}") for i in range(5)] == [None, None, 57, 58, 59]


def test_the_refusal_is_a_429_problem_with_retry_after():
    error = AuthFailures(limit=1, window_seconds=60).refusal(42)
    assert error.status == 429 and error.code == "too_many_auth_failures"
    assert error.headers == {"Retry-After": "42"}


def test_the_peer_counts_unless_it_is_a_trusted_proxy():
    direct = ClientAddress([])
    # X-Forwarded-For is the client's own word: ignored without trusted proxies.
    assert direct(scope("198.51.100.9", "203.0.113.5")) == "198.51.100.9"
    behind = ClientAddress(["10.0.0.0/8", "192.0.2.1"])
    assert behind(scope("198.51.100.9", "203.0.113.5")) == "198.51.100.9"  # not a trusted peer
    assert behind(scope("10.1.2.3", "203.0.113.5")) == "203.0.113.5"
    # The rightmost address no trusted proxy wrote is the client; what it wrote itself is ignored.
    assert behind(scope("10.1.2.3", "1.1.1.1, 203.0.113.5", "192.0.2.1")) == "203.0.113.5"
    assert behind(scope("10.1.2.3")) == "10.1.2.3"  # a trusted proxy that names nobody
    assert behind(scope("10.1.2.3", "10.0.0.7, 10.0.0.8")) == "10.0.0.7"  # only proxies: the leftmost
    assert behind(scope("10.1.2.3", "garbage, 203.0.113.5")) == "203.0.113.5"
    assert ClientAddress(["::1"])(scope("::1", "2001:db8::7")) == "2001:db8::7"


def test_trusted_proxies_must_be_addresses_or_networks():
    from gateway.settings import Settings

    assert Settings(trusted_proxies=["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]).trusted_proxies
    with pytest.raises(ValueError, match=r"proxy\.example"):
        Settings(trusted_proxies=["proxy.example"])
