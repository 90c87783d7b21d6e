"""Drill: PostgreSQL restarts under load.

While the database is away, clients get `503` with `Retry-After` (never a
500), and once it is back every process recovers by itself: requests succeed,
every acknowledged write is there, and events travel at NOTIFY speed again
(each dispatcher re-establishes its LISTEN connection) without restarting any
process.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.drills.private_postgres import PrivatePostgres
from tests.drills.support import alive, load, new_tag, report, statuses, success_rate, wait_until
from tests.e2e.system import RunningSystem
from tests.gateway.system import running_system
from tests.support import auth

pytestmark = pytest.mark.e2e

# Without LISTEN a dispatcher finds new events only by polling; a long poll
# makes that fallback plain to see (seconds instead of milliseconds).
POLL_SECONDS = 5.0
DOWN_SECONDS = 3.0


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(Path(tmp_path_factory.mktemp("drill-pg")) / "data")
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def database_url(postgres: PrivatePostgres) -> str:
    url = postgres.database_url(f"drill_{new_tag()}")
    from sanlun.kernel.migrations import upgrade
    from sanlun.topology import SERVICES

    for spec in SERVICES:
        upgrade(spec.migrations_dir, spec.schema, url)
    return url


@pytest.fixture(scope="module")
def system(database_url: str) -> Iterator[RunningSystem]:
    with running_system(database_url, env={"SANLUN_OUTBOX_POLL_SECONDS": str(POLL_SECONDS)}) as running:
        yield running


def _event_latencies(system: RunningSystem, database_url: str, rep: dict[str, str], tag: str) -> list[float]:
    """Seconds from commit to delivery of `opportunity.created`, for ten new deals."""
    deals = []
    with httpx.Client(base_url=system.url("gateway"), timeout=10, headers=rep) as client:
        for n in range(10):
            created = client.post(
                "/api/v1/opportunities",
                json={"name": f"Latency {tag} #{n}", "amount": {"amount": "1.00", "currency": "CNY"}},
            )
            assert created.status_code == 201, created.text
            deals.append(created.json()["id"])
            time.sleep(0.1)

    async def delivered() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(
                "SELECT status, extract(epoch FROM delivered_at - created_at)::float AS seconds "
                "FROM opportunity.outbox WHERE type = 'opportunity.created' AND subject = ANY($1::text[])",
                deals,
            )
        finally:
            await conn.close()

    wait_until(lambda: {r["status"] for r in asyncio.run(delivered())} == {"delivered"}, 4 * POLL_SECONDS)
    return [r["seconds"] for r in asyncio.run(delivered())]


def test_a_database_restart_answers_503_and_heals_without_restarting_anything(
    system: RunningSystem, postgres: PrivatePostgres, database_url: str
) -> None:
    tag = new_tag()
    rep = auth(employee=uuid.uuid4(), org_unit=f"/group/pgdrill{tag}/team-1", roles=("rep",))
    pids = dict(system.pids)
    before = _event_latencies(system, database_url, rep, tag + "-before")

    def traffic(n: int) -> tuple[str, str, dict[str, str], dict[str, object] | None]:
        if n % 2:
            return "GET", "/api/v1/opportunities?limit=5", rep, None
        body = {"name": f"Restart drill {tag} #{n}", "amount": {"amount": "2.00", "currency": "CNY"}}
        return "POST", "/api/v1/opportunities", {**rep, "Idempotency-Key": f"pg-{tag}-{n}"}, body

    with load(system.url("gateway"), traffic, workers=4, interval=0.05, max_seconds=60) as running:
        time.sleep(2)
        stopped_at = time.monotonic()
        postgres.stop()
        time.sleep(DOWN_SECONDS)
        postgres.start()
        started_at = time.monotonic()
        time.sleep(8)
    outcomes = running.stop()

    during = [o for o in outcomes if stopped_at <= o.sent < started_at]
    settled = [o for o in outcomes if o.sent >= started_at + 5]
    refused = [o for o in outcomes if not o.ok]
    after = _event_latencies(system, database_url, rep, tag + "-after")
    report(
        "database-restart",
        requests=len(outcomes),
        statuses=statuses(outcomes),
        during=statuses(during),
        ok_after_5s=success_rate(settled),
        event_latency_median_before=statistics.median(before),
        event_latency_median_after=statistics.median(after),
        event_latency_max_after=max(after),
    )

    assert all(o.status != 500 for o in outcomes), (
        statuses(outcomes),
        [(o.request, o.body) for o in outcomes if o.status == 500],
    )
    assert during and any(o.status == 503 for o in during), statuses(during)
    for o in refused:
        assert o.status == 503, (o.status, o.body, o.error)
        assert int(o.headers["retry-after"]) >= 1
        assert o.headers["content-type"].startswith("application/problem+json")
    assert len(settled) >= 20
    assert success_rate(settled) == 1.0, statuses(settled)
    # No process was restarted to get here.
    assert all(alive(pid) for pid in pids.values())
    # Events at NOTIFY speed again, not at the 5 s poll.
    assert statistics.median(after) <= max(2 * statistics.median(before), 0.3), (before, after)

    with httpx.Client(base_url=system.url("gateway"), timeout=10, headers=rep) as client:
        for o in outcomes:
            if o.status == 201:
                assert client.get(f"/api/v1/opportunities/{o.body['id']}").status_code == 200
