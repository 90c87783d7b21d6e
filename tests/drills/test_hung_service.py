"""Drill: one service hangs (SIGSTOP) while callers keep asking it.

Each upstream has its own connections and queue at the gateway (a bulkhead),
so calls to the other services never wait on the hung one: none of them takes
anything near the hung calls' read timeout (a shared pool, bulkhead or breaker
would hold them for seconds); the hung service's callers get a clear 503/504
instead of waiting for ever; after SIGCONT it serves again without any restart.

The judgement is against the hang's timeout, not a measured baseline: a ratio
of milliseconds fails on a busy machine (speed targets belong in benchmarks).
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.drills.support import kill, load, new_tag, percentile, report, statuses, success_rate, wait_until
from tests.e2e.system import RunningSystem
from tests.gateway.system import running_system
from tests.support import auth, ensure_org_unit_sync

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 5.0
# As many connections per service as hung callers, so they fill key_account's
# bulkhead and pool (the default, 64, would leave room a shared one could lend).
HUNG_CALLERS = 16
# A call to a healthy service this slow waited on the hang: half what one
# queued behind the hung calls waits (their timeout less the 1 s head start),
# and over twice the slowest seen at load 10 on 2 cores (0.8 s; p99 0.25 s).
WAITED = (READ_TIMEOUT - 1) / 2


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    env = {
        "SANLUN_GATEWAY_PROXY_READ_TIMEOUT_GET_SECONDS": str(READ_TIMEOUT),
        "SANLUN_GATEWAY_PROXY_MAX_CONNECTIONS_PER_SERVICE": str(HUNG_CALLERS),
    }
    with running_system(committed_database_url, env=env) as running:
        yield running


def _latencies(
    gateway: str, request: tuple[str, str, dict[str, str], None], seconds: float, workers: int = 4
) -> list[float]:
    with load(gateway, lambda n: request, workers=workers, interval=0.01, max_seconds=seconds + 10) as running:
        running.hold(seconds)
    outcomes = running.stop()
    assert success_rate(outcomes) == 1.0, statuses(outcomes)
    return [o.seconds for o in outcomes]


def test_a_hung_service_does_not_slow_calls_to_the_others(system: RunningSystem) -> None:
    tag = new_tag()
    admin = auth(org_unit=f"/group/hung{tag}", roles=("org_admin",))
    rep = auth(employee=uuid.uuid4(), org_unit=f"/group/hung{tag}/team-1", roles=("rep",))
    gateway = system.url("gateway")
    with httpx.Client(base_url=gateway, timeout=10) as client:
        ensure_org_unit_sync(client, f"/group/hung{tag}/team-1")  # employees live only in existing units (issue 16)
        created = client.post(
            "/api/v1/employees",
            headers=admin,
            json={
                "name": "Hung drill",
                "email": f"hung-{tag}@example.com",
                "org_unit_path": f"/group/hung{tag}/team-1",
            },
        )
        assert created.status_code == 201, created.text
    read_employee = ("GET", f"/api/v1/employees/{created.json()['id']}", admin, None)

    _latencies(gateway, read_employee, 2)  # warm the connections and caches
    undisturbed = _latencies(gateway, read_employee, 6)

    victim = system.pids["key_account"]
    kill(victim, signal.SIGSTOP)
    try:
        with load(
            gateway, lambda n: ("GET", "/api/v1/accounts", rep, None), workers=HUNG_CALLERS, max_seconds=30
        ) as hung:
            hung.hold(1)  # let the hung calls fill the key_account connections
            # More callers than before, so the gateway opens new connections
            # to the healthy service during the hang (a kept-alive one is
            # reused without waiting, even from a pool the hung calls fill).
            disturbed = _latencies(gateway, read_employee, 6, workers=8)
            hung.stop()
    finally:
        kill(victim, signal.SIGCONT)
    hung_outcomes = hung.stop()

    waited = [round(s, 3) for s in disturbed if s >= WAITED]
    report(
        "hung-service",
        undisturbed_n=len(undisturbed),
        undisturbed_p50=percentile(undisturbed, 0.5),
        undisturbed_p99=percentile(undisturbed, 0.99),
        undisturbed_max=max(undisturbed),
        disturbed_n=len(disturbed),
        disturbed_p50=percentile(disturbed, 0.5),
        disturbed_p99=percentile(disturbed, 0.99),
        disturbed_max=max(disturbed),
        waited=len(waited),
        hung_calls=statuses(hung_outcomes),
        hung_call_max_seconds=max(o.seconds for o in hung_outcomes),
    )
    # No call to the healthy service waited on the hung one. (The undisturbed
    # figures are for the report only: how slow the machine was anyway.)
    assert not waited, f"{len(waited)} of {len(disturbed)} calls took {WAITED} s or more: {waited[:10]}"
    # The hung service's callers got an answer, not a hang nor a 500.
    assert {o.status for o in hung_outcomes} <= {503, 504}, statuses(hung_outcomes)
    assert max(o.seconds for o in hung_outcomes) < READ_TIMEOUT + 3
    # Its own breaker opened once the first calls timed out, and refused the
    # rest at once. (One shared with the healthy service is either held closed
    # by that one's successes, so every hung call waits the timeout, or opens
    # on the healthy calls too, which then fail above.)
    codes = {o.body.get("code") for o in hung_outcomes if isinstance(o.body, dict)}
    assert "upstream_circuit_open" in codes, statuses(hung_outcomes)

    # After SIGCONT it serves again (the breaker's trial call closes it).
    with httpx.Client(base_url=gateway, timeout=10) as client:
        wait_until(lambda: client.get("/api/v1/accounts", headers=rep).status_code == 200, 15, interval=0.25)
