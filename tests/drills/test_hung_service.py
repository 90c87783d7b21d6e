"""Drill: one service hangs (SIGSTOP) while callers keep asking it.

Each upstream has its own connections and queue at the gateway (a bulkhead),
so calls to the other services keep their normal latency; the hung service's
callers get a clear 503/504 instead of waiting for ever; after SIGCONT it
serves again without any restart.
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

READ_TIMEOUT = 4.0


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    env = {"SANLUN_GATEWAY_PROXY_READ_TIMEOUT_GET_SECONDS": str(READ_TIMEOUT)}
    with running_system(committed_database_url, env=env) as running:
        yield running


def _latencies(gateway: str, request: tuple[str, str, dict[str, str], None], seconds: float) -> list[float]:
    with load(gateway, lambda n: request, workers=4, interval=0.01, max_seconds=seconds + 10) as running:
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
        with load(gateway, lambda n: ("GET", "/api/v1/accounts", rep, None), workers=16, max_seconds=30) as hung:
            hung.hold(1)  # let the hung calls fill the key_account connections
            disturbed = _latencies(gateway, read_employee, 6)
            hung.stop()
    finally:
        kill(victim, signal.SIGCONT)
    hung_outcomes = hung.stop()

    p99_before, p99_during = percentile(undisturbed, 0.99), percentile(disturbed, 0.99)
    report(
        "hung-service",
        undisturbed_n=len(undisturbed),
        undisturbed_p50=percentile(undisturbed, 0.5),
        undisturbed_p99=p99_before,
        disturbed_n=len(disturbed),
        disturbed_p50=percentile(disturbed, 0.5),
        disturbed_p99=p99_during,
        hung_calls=statuses(hung_outcomes),
        hung_call_max_seconds=max(o.seconds for o in hung_outcomes),
    )
    # Within 2x of the undisturbed figure; a floor of 20 ms keeps a few ms of
    # scheduling noise on a 2-core machine from failing the drill.
    assert p99_during <= 2 * max(p99_before, 0.020), (p99_before, p99_during)
    # The hung service's callers got an answer, not a hang nor a 500.
    assert {o.status for o in hung_outcomes} <= {503, 504}, statuses(hung_outcomes)
    assert max(o.seconds for o in hung_outcomes) < READ_TIMEOUT + 3

    # After SIGCONT it serves again (the breaker's trial call closes it).
    with httpx.Client(base_url=gateway, timeout=10) as client:
        wait_until(lambda: client.get("/api/v1/accounts", headers=rep).status_code == 200, 15, interval=0.25)
