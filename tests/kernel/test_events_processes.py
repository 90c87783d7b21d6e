"""Events between real service processes: employee_lifecycle publishes, opportunity consumes."""

import time
import uuid

import httpx
import pytest

from tests.support import auth, ensure_org_unit_sync
from tests.support_processes import ServiceProcess
from tests.support_servers import free_port

pytestmark = pytest.mark.e2e

ADMIN = auth(org_unit="/group", roles=("group_admin",))


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def known_to_opportunity(opportunity_url: str, employee_ids: set[str]) -> set[str]:
    r = httpx.get(
        f"{opportunity_url}/api/v1/assignments/sales-people",
        params={"limit": 200, "org_unit": "/group/proc"},
        headers=ADMIN,
        timeout=5,
    )
    return {p["employee_id"] for p in r.json()["items"]} & employee_ids


def test_nothing_is_lost_when_consumer_is_down_and_publisher_is_killed(committed_database_url, tmp_path):
    opp_port, el_port = free_port(), free_port()
    peers = {
        "SANLUN_OPPORTUNITY_URL": f"http://127.0.0.1:{opp_port}",
        "SANLUN_EMPLOYEE_LIFECYCLE_URL": f"http://127.0.0.1:{el_port}",
        # only the flow under test, with quick retries
        "SANLUN_SUBSCRIPTIONS": '{"opportunity": ["employee.*"]}',
        "SANLUN_OUTBOX_BACKOFF_CAP_SECONDS": "0.5",
        "SANLUN_OUTBOX_POLL_SECONDS": "0.2",
    }
    publisher = ServiceProcess(
        "employee_lifecycle", el_port, database_url=committed_database_url, log_dir=tmp_path, env=peers
    )
    consumer = ServiceProcess("opportunity", opp_port, database_url=committed_database_url, log_dir=tmp_path, env=peers)
    try:
        publisher.start()
        created: list[str] = []
        with httpx.Client(base_url=publisher.url, headers=ADMIN, timeout=5) as client:
            ensure_org_unit_sync(client, "/group/proc")  # employees live only in existing units (issue 16)
            for i in range(5):
                r = client.post(
                    "/api/v1/employees",
                    json={
                        "name": f"Proc {i}",
                        "email": f"proc-{uuid.uuid4().hex[:8]}@example.com",
                        "org_unit_path": "/group/proc",
                    },
                )
                assert r.status_code == 201, r.text
                created.append(r.json()["id"])
            # one subject with several events: they must arrive in order
            for capacity in (1, 2, 3):
                r = client.patch(f"/api/v1/employees/{created[0]}", json={"capacity": capacity})
                assert r.status_code == 200
        time.sleep(0.5)  # deliveries are failing: the consumer is down
        publisher.kill()  # committed, undelivered, publisher gone without shutdown

        consumer.start()
        time.sleep(1.0)
        assert known_to_opportunity(consumer.url, set(created)) == set()  # nothing delivers them yet

        publisher.start()  # a new process finds the outbox and delivers
        wait_until(lambda: known_to_opportunity(consumer.url, set(created)) == set(created))

        def first_person() -> dict:
            r = httpx.get(
                f"{consumer.url}/api/v1/assignments/sales-people",
                params={"limit": 200, "org_unit": "/group/proc"},
                headers=ADMIN,
                timeout=5,
            )
            return next(p for p in r.json()["items"] if p["employee_id"] == created[0])

        # The updates of one subject arrive in order, so the view ends on the last one.
        wait_until(lambda: first_person()["source_version"] == 4)
        assert first_person()["capacity"] == 3
    finally:
        publisher.stop()
        consumer.stop()
