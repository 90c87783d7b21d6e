"""Drill: kill -9 a service under steady write load through the gateway.

`sanlun up` must restart it by itself, the gateway must send traffic to it
again as soon as it is back (its circuit breaker closes), and every write a
client was told succeeded must be there afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.drills.support import Outcome, alive, kill, load, new_tag, ready, report, statuses, success_rate, wait_until
from tests.e2e.system import PROCESSES, RunningSystem
from tests.gateway.system import running_system
from tests.support import auth

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    with running_system(committed_database_url) as running:
        yield running


def test_a_killed_service_comes_back_and_loses_no_acknowledged_write(system: RunningSystem) -> None:
    tag = new_tag()
    rep = auth(employee=uuid.uuid4(), org_unit=f"/group/crash{tag}/team-1", roles=("rep",))

    def write(n: int) -> tuple[str, str, dict[str, str], dict[str, object]]:
        body = {"name": f"Crash drill {tag} #{n}", "amount": {"amount": f"{1000 + n}.00", "currency": "CNY"}}
        return "POST", "/api/v1/opportunities", {**rep, "Idempotency-Key": f"crash-{tag}-{n}"}, body

    others = {name: system.pids[name] for name in PROCESSES if name != "opportunity"}
    victim = system.pids["opportunity"]
    with load(system.url("gateway"), write, workers=4, interval=0.05, max_seconds=50) as running:
        time.sleep(2)
        killed_at = time.monotonic()
        kill(victim)
        # Back = the supervisor restarted it and it answers ready.
        wait_until(lambda: not alive(victim), 5)
        wait_until(lambda: ready(system.url("opportunity")), 30, interval=0.05)
        back_at = time.monotonic()
        time.sleep(8)
    outcomes = running.stop()

    before = [o for o in outcomes if o.done < killed_at]
    after_back = [o for o in outcomes if o.sent >= back_at]
    settled = [o for o in after_back if o.sent >= back_at + 5]
    report(
        "service-crash",
        requests=len(outcomes),
        down_seconds=back_at - killed_at,
        ok_before=success_rate(before),
        ok_first_5s_after_back=success_rate([o for o in after_back if o not in settled]),
        ok_after_5s=success_rate(settled),
        statuses=statuses(outcomes),
    )
    assert success_rate(before) == 1.0, statuses(before)
    assert all(o.status != 500 for o in outcomes), statuses(outcomes)
    assert len(settled) >= 50
    assert success_rate(settled) >= 0.99, statuses(settled)
    # The other processes served on; the supervisor restarted only the victim.
    assert all(alive(pid) for pid in others.values())
    assert system.wait_for_line(r"opportunity \(pid \d+\) was killed by signal 9.*restarting it", 1)

    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        _every_acknowledged_write_is_there(client, rep, outcomes)
        breakers = client.get("/health", headers=auth(org_unit="/group", roles=("ops",))).json()
    assert _breaker_states(breakers) == {"closed"}, breakers


def _every_acknowledged_write_is_there(client: httpx.Client, rep: dict[str, str], outcomes: list[Outcome]) -> None:
    acknowledged = [o for o in outcomes if o.status == 201]
    assert acknowledged
    for o in acknowledged:
        got = client.get(f"/api/v1/opportunities/{o.body['id']}", headers=rep)
        assert got.status_code == 200, (o, got.text)
        assert got.json()["name"] == o.request[3]["name"]  # type: ignore[index]
    # A write whose answer was lost may be retried with its key: it is done once.
    unknown = [o for o in outcomes if not o.ok]
    for o in unknown[:20]:
        method, path, headers, body = o.request  # type: ignore[misc]
        retried = client.request(method, path, headers=headers, json=body)
        assert retried.status_code == 201, retried.text


def _breaker_states(health: dict[str, object]) -> set[str]:
    services = health.get("services")
    items = services.values() if isinstance(services, dict) else services or []
    return {str(s.get("breaker")) for s in items}  # type: ignore[union-attr]
