"""Drill: SIGTERM to `sanlun up` while requests are in flight.

The gateway stops first (it stops accepting and finishes what it has), then
the services, then the database if it is embedded: a request already in the
gateway's hands completes, and afterwards nothing of the run is left running.
"""

from __future__ import annotations

import signal
import time
import uuid

import httpx
import pytest

from tests.drills.support import alive, load, new_tag, report, statuses
from tests.e2e.system import free_base_port, start_sanlun_up, stop, wait_until_up
from tests.gateway.conftest import migrate_gateway
from tests.support import auth

pytestmark = pytest.mark.e2e

ROWS = 1000  # a bulk upsert of this many rows keeps a request busy for a while


def test_sigterm_finishes_in_flight_requests_and_leaves_nothing_running(committed_database_url: str) -> None:
    migrate_gateway(committed_database_url)
    system = start_sanlun_up(committed_database_url, free_base_port())
    try:
        wait_until_up(system)
        tag = new_tag()
        rep = auth(employee=uuid.uuid4(), org_unit=f"/group/stop{tag}/team-1", roles=("rep",))

        def bulk(n: int) -> tuple[str, str, dict[str, str], dict[str, object]]:
            items = [
                {
                    "external_id": f"stop-{tag}-{n}-{i}",
                    "name": f"Stop drill {n}/{i}",
                    "amount": {"amount": "3.00", "currency": "CNY"},
                }
                for i in range(ROWS)
            ]
            return "POST", "/api/v1/opportunities:bulk-upsert", rep, {"items": items}

        with httpx.Client(base_url=system.url("gateway"), timeout=30) as client:
            timed = time.monotonic()
            first = client.post("/api/v1/opportunities:bulk-upsert", headers=rep, json=bulk(0)[3])
            assert first.status_code == 200, first.text
            one_request = time.monotonic() - timed

        with load(system.url("gateway"), bulk, workers=3, interval=0.05, max_seconds=40, timeout=30) as running:
            time.sleep(max(1.5, 2 * one_request))
            signalled = time.monotonic()
            system.process.send_signal(signal.SIGTERM)
            code = system.process.wait(30)
            exited = time.monotonic()
        outcomes = running.stop()
    finally:
        stop(system)

    # In flight: sent well before the signal, so surely in the gateway's hands.
    in_flight = [o for o in outcomes if o.sent < signalled - 0.2 and o.done > signalled]
    report(
        "graceful-stop",
        one_bulk_request_seconds=one_request,
        requests=len(outcomes),
        in_flight_at_sigterm=len(in_flight),
        in_flight_statuses=statuses(in_flight),
        stop_seconds=exited - signalled,
        exit_code=code,
    )
    assert code == 0, system.output()[-3000:]
    assert in_flight, "the drill must catch requests in flight"
    assert all(o.status == 200 for o in in_flight), statuses(in_flight)
    # Nothing of the run is left: every child is gone and its port is free.
    assert not any(alive(pid) for pid in system.pids.values()), system.pids
    with pytest.raises(httpx.ConnectError):
        httpx.get(system.url("gateway") + "/health/live", timeout=2)
    # The gateway is stopped (and has drained) before any service is signalled.
    lines = system.output().splitlines()
    gateway_stopped = next(i for i, line in enumerate(lines) if "stopped gateway in" in line)
    services_signalled = next(i for i, line in enumerate(lines) if "stopping " in line and "opportunity" in line)
    assert gateway_stopped < services_signalled, "\n".join(lines[-40:])
