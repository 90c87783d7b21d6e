"""Drill: one rep sends oversized bodies without Content-Length (chunked).

Each must be answered 413 at the gateway before anything is forwarded; none
may count as a failure of the service, so what every other caller gets does
not change (before the fix, five such requests opened the circuit breaker and
everyone got 503).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.drills.support import load, new_tag, report, statuses, success_rate
from tests.e2e.system import RunningSystem
from tests.gateway.system import running_system
from tests.support import auth

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    with running_system(committed_database_url, env={"SANLUN_MAX_BODY_BYTES": str(LIMIT)}) as running:
        yield running


def _oversized_chunks(size: int) -> Iterator[bytes]:
    # Valid JSON, so only its size is wrong; sent as a generator, httpx uses
    # Transfer-Encoding: chunked and no Content-Length.
    yield b'{"name": "'
    piece = b"x" * 8192
    for _ in range(size // len(piece)):
        yield piece
    yield b'", "amount": {"amount": "1.00", "currency": "CNY"}}'


def test_oversized_chunked_bodies_never_change_what_others_get(system: RunningSystem) -> None:
    tag = new_tag()
    attacker = auth(employee=uuid.uuid4(), org_unit=f"/group/hostile{tag}/team-1", roles=("rep",))
    bystander = auth(employee=uuid.uuid4(), org_unit=f"/group/hostile{tag}/team-2", roles=("rep",))
    gateway = system.url("gateway")
    with httpx.Client(base_url=gateway, timeout=10) as client:
        mine = client.post(
            "/api/v1/opportunities",
            headers=bystander,
            json={"name": f"Bystander {tag}", "amount": {"amount": "5.00", "currency": "CNY"}},
        )
        assert mine.status_code == 201, mine.text
        deal = mine.json()["id"]

    def read(n: int) -> tuple[str, str, dict[str, str], None]:
        return "GET", f"/api/v1/opportunities/{deal}", bystander, None

    answers: list[httpx.Response] = []
    with load(gateway, read, workers=2, interval=0.02, max_seconds=40) as bystanders:
        with httpx.Client(base_url=gateway, timeout=10) as client:
            for _ in range(20):
                answers.append(
                    client.post(
                        "/api/v1/opportunities",
                        content=_oversized_chunks(4 * LIMIT),
                        headers={**attacker, "Content-Type": "application/json"},
                    )
                )
            # Other services too: each has its own breaker.
            for path in ("/api/v1/employees", "/api/v1/accounts", "/api/v1/resources"):
                for _ in range(6):
                    answers.append(
                        client.post(
                            path,
                            content=_oversized_chunks(4 * LIMIT),
                            headers={**attacker, "Content-Type": "application/json"},
                        )
                    )
        # Five refused bodies used to open the breaker for everyone: keep looking a while after.
        bystanders.hold(3)
    seen = bystanders.stop()
    report(
        "hostile-bodies",
        oversized=len(answers),
        oversized_statuses=statuses_of(answers),
        bystander_requests=len(seen),
        bystander_statuses=statuses(seen),
    )

    for answer in answers:
        assert answer.status_code == 413, answer.text[:300]
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert json.loads(answer.text)["status"] == 413
    assert len(seen) >= 30
    assert success_rate(seen) == 1.0, statuses(seen)
    with httpx.Client(base_url=gateway, timeout=10) as client:
        health = client.get("/health", headers=auth(org_unit="/group", roles=("ops",))).json()
        assert {s["breaker"] for s in health["services"]} == {"closed"}, health
        # Nothing of the oversized bodies was stored.
        listed = client.get("/api/v1/opportunities", headers=attacker).json()
        assert listed["items"] == []


def statuses_of(responses: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for r in responses:
        counts[r.status_code] = counts.get(r.status_code, 0) + 1
    return counts
