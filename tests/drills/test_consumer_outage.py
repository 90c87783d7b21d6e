"""Drill: an event consumer is down for longer than the old retry window.

The old dispatcher parked an event after 8 failed attempts (about 32 s with
its backoff; here the backoff is shortened through settings so those 8
attempts take a second or two). Now events wait over a long horizon: nothing
is parked, each event arrives once, and when the consumer is back its backlog
goes at once instead of after each event's own backoff.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.drills.support import report, wait_until
from tests.support import auth
from tests.support_processes import ServiceProcess
from tests.support_servers import free_port

pytestmark = pytest.mark.e2e

EVENTS = 100
DOWN_SECONDS = 12.0


def _query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_a_long_consumer_outage_parks_nothing_and_drains_at_once(committed_database_url: str, tmp_path: Path) -> None:
    producer_port, consumer_port = free_port(), free_port()
    env = {
        "SANLUN_OPPORTUNITY_URL": f"http://127.0.0.1:{producer_port}",
        "SANLUN_KEY_ACCOUNT_URL": f"http://127.0.0.1:{consumer_port}",
        # Only the flow under test: the producer's deals go to key_account.
        "SANLUN_SUBSCRIPTIONS": json.dumps({"key_account": ["opportunity.created"]}),
        # The old window, shortened: 8 attempts at 0.05 s doubling, capped at 1 s.
        "SANLUN_OUTBOX_BACKOFF_BASE_SECONDS": "0.05",
        "SANLUN_OUTBOX_BACKOFF_CAP_SECONDS": "1.0",
        "SANLUN_HTTP_TIMEOUT_SECONDS": "1.0",
    }
    producer = ServiceProcess(
        "opportunity", producer_port, database_url=committed_database_url, log_dir=tmp_path, env=env
    )
    consumer = ServiceProcess(
        "key_account", consumer_port, database_url=committed_database_url, log_dir=tmp_path, env=env
    )
    rep = auth(employee=uuid.uuid4(), org_unit=f"/group/outage{uuid.uuid4().hex[:6]}/team-1", roles=("rep",))
    try:
        producer.start()
        consumer.start()
        consumer.kill()
        went_down = time.monotonic()
        deals: list[str] = []
        with httpx.Client(base_url=producer.url, headers=rep, timeout=10) as client:
            for n in range(EVENTS):
                created = client.post(
                    "/api/v1/opportunities",
                    json={"name": f"Outage drill #{n}", "amount": {"amount": "10.00", "currency": "CNY"}},
                )
                assert created.status_code == 201, created.text
                deals.append(created.json()["id"])
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - went_down)))

        rows = _outbox(committed_database_url, deals)
        attempts = max(r["attempts"] for r in rows)
        assert {r["status"] for r in rows} == {"pending"}, _by_status(rows)
        assert attempts >= 8, "the drill must outlast the old 8-attempt window"

        consumer.start()
        back = time.monotonic()
        drained = wait_until(
            lambda: {r["status"] for r in _outbox(committed_database_url, deals)} == {"delivered"}, 15, interval=0.05
        )
        rows = _outbox(committed_database_url, deals)
        received = _query(
            committed_database_url,
            "SELECT event_id, count(*) AS n FROM key_account.inbox WHERE event_id = ANY($1::uuid[]) GROUP BY event_id",
            [r["event_id"] for r in rows],
        )
        report(
            "consumer-outage",
            events=len(rows),
            down_seconds=back - went_down,
            max_attempts_while_down=attempts,
            drained_seconds_after_return=drained,
            parked=sum(r["status"] == "parked" for r in rows),
        )
        assert len(rows) == EVENTS
        assert {r["subject"] for r in rows} == set(deals)
        assert drained <= 5.0
        assert len(received) == EVENTS and all(r["n"] == 1 for r in received)
    finally:
        producer.stop()
        consumer.stop()


def _outbox(url: str, deals: list[str]) -> list[asyncpg.Record]:
    return _query(
        url,
        "SELECT event_id, subject, status, attempts FROM opportunity.outbox "
        "WHERE subscriber = 'key_account' AND type = 'opportunity.created' AND subject = ANY($1::text[])",
        deals,
    )


def _by_status(rows: list[asyncpg.Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
