"""The whole system as a user runs it: `sanlun up`, real processes, the gateway in front."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from sanlun.topology import SERVICES
from tests.e2e.system import (
    PROCESSES,
    RunningSystem,
    free_base_port,
    sanlun_command,
    sanlun_env,
    start_sanlun_up,
    stop,
    wait_until_up,
)
from tests.support import auth, ensure_org_unit_sync

pytestmark = pytest.mark.e2e

ADMIN = auth(org_unit="/group", roles=("group_admin",))
REP_A_ID = uuid.uuid4()
REP_A = auth(employee=REP_A_ID, org_unit="/group/east/team-1", roles=("rep",))
REP_B = auth(employee=uuid.uuid4(), org_unit="/group/east/team-1", roles=("rep",))


def new_employee() -> dict:
    return {
        "name": "Ada Lin",
        "email": f"ada-{uuid.uuid4().hex[:8]}@example.com",
        "org_unit_path": "/group/east/team-1",
    }


def new_opportunity() -> dict:
    return {"name": "Harbour data centre", "amount": {"amount": "1234.50", "currency": "CNY"}}


def new_account() -> dict:
    return {"name": f"Acme Shipping {uuid.uuid4().hex[:6]}", "industry": "logistics"}


def new_resource() -> dict:
    return {"type": "reference_case", "title": "Port logistics rollout", "scope": "group"}


# (path, body factory, token, field checked on read) for one record per service
RECORDS = {
    "employee_lifecycle": ("/api/v1/employees", new_employee, ADMIN, "email"),
    "opportunity": ("/api/v1/opportunities", new_opportunity, REP_A, "amount"),
    "key_account": ("/api/v1/accounts", new_account, REP_A, "name"),
    "resource_share": ("/api/v1/resources", new_resource, REP_A, "title"),
}


@pytest.fixture(scope="module")
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    running = start_sanlun_up(committed_database_url, free_base_port())
    try:
        wait_until_up(running)
        yield running
    finally:
        stop(running)


@pytest.fixture(scope="module")
def gateway(system: RunningSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url("gateway"), timeout=10) as client:
        ensure_org_unit_sync(client, new_employee()["org_unit_path"])  # employees live only in existing units
        yield client


@pytest.fixture(scope="module")
def opportunity_id(gateway: httpx.Client) -> str:
    created = gateway.post("/api/v1/opportunities", json=new_opportunity(), headers=REP_A)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_gateway_health_lists_four_ready_services(gateway):
    body = gateway.get("/health", headers=ADMIN).json()  # the details need ops or group_admin
    services = {s["name"]: s for s in body["services"]}
    assert set(services) == {s.name for s in SERVICES}
    assert all(s["status"] == "ready" for s in services.values()), body


@pytest.mark.parametrize("service", RECORDS)
def test_create_and_read_through_the_gateway(gateway, service):
    path, body, headers, field = RECORDS[service]
    data = body()
    created = gateway.post(path, json=data, headers=headers)
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["location"] == f"{path}/{record['id']}"
    got = gateway.get(created.headers["location"], headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == record["id"]
    assert got.json()[field] == data[field]
    assert got.headers["etag"] == created.headers["etag"]


def test_other_rep_gets_404_through_the_gateway_and_at_the_service(system, gateway, opportunity_id):
    path = f"/api/v1/opportunities/{opportunity_id}"
    assert gateway.get(path, headers=REP_A).json()["owner_id"] == str(REP_A_ID)
    via_gateway = gateway.get(path, headers=REP_B)
    assert via_gateway.status_code == 404
    assert via_gateway.headers["content-type"] == "application/problem+json"
    direct = httpx.get(system.url("opportunity") + path, headers=REP_B, timeout=10)
    assert direct.status_code == 404
    assert direct.json()["status"] == 404


def test_request_id_comes_back_and_reaches_the_service(system, gateway, opportunity_id):
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = gateway.get(f"/api/v1/opportunities/{opportunity_id}", headers={**REP_A, "X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    # The service's own access log line carries the id the gateway passed on.
    system.wait_for_line(rf"^opportunity\s+\|.*{request_id}", timeout=10)


def test_sigterm_stops_every_child_and_exits_0(system):
    """Last in this module: it stops the system the tests above share."""
    assert set(system.pids) == set(PROCESSES)
    assert stop(system) == 0, system.output()[-4000:]
    for pid in system.pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    system.wait_for_line(r"^Stopped\.$", timeout=1)


def test_up_names_the_taken_gateway_port_and_its_process(committed_database_url):
    base = free_base_port(start=28000)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base))
        squatter.listen()
        started = time.monotonic()
        result = subprocess.run(
            [*sanlun_command(), "up", "--base-port", str(base)],
            env=sanlun_env(committed_database_url),
            capture_output=True,
            text=True,
            check=False,  # the test reads the exit status
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {base} on 127.0.0.1 (for gateway) is already in use by pid {os.getpid()}" in result.stderr
    assert "--base-port" in result.stderr
    # It failed before migrating or starting anything.
    assert "Sanlun is up" not in result.stdout
    assert time.monotonic() - started < 30
