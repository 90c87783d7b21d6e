"""The gateway as a real process: its JSON access log."""

import json
import os
import subprocess
import sys
import time
import uuid

import httpx

from tests.gateway.conftest import closed_url
from tests.support import TEST_SECRET, auth
from tests.support_servers import free_port


def start_gateway_process(port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "SANLUN_JWT_SECRET": TEST_SECRET,
        "SANLUN_ENVIRONMENT": "test",
        **{
            f"SANLUN_{name}_URL": closed_url()
            for name in ("OPPORTUNITY", "EMPLOYEE_LIFECYCLE", "KEY_ACCOUNT", "RESOURCE_SHARE")
        },
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "gateway.app:create_app", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_live(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not start")


def test_every_request_writes_one_json_access_line(tmp_path):
    port = free_port()
    log_path = tmp_path / "gateway.log"
    employee = uuid.uuid4()
    with log_path.open("w") as log:
        process = start_gateway_process(port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_live(url, process)
        # Building the merged spec imports every service: it must not relabel the gateway's logs.
        assert httpx.get(f"{url}/openapi.json", timeout=30).status_code == 200
        headers = {**auth(employee=employee), "X-Request-ID": "gw-log-1"}
        assert httpx.get(f"{url}/api/v1/accounts", headers=headers, timeout=10).status_code == 502
        assert httpx.get(f"{url}/nowhere", headers={"X-Request-ID": "gw-log-2"}, timeout=10).status_code == 404
    finally:
        process.terminate()
        process.wait(10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    by_id = {}
    for line in lines:
        by_id.setdefault(line.get("request_id"), []).append(line)
    proxied = [line for line in by_id["gw-log-1"] if line["event"] == "request"]
    assert len(proxied) == 1
    assert proxied[0] | {"duration_ms": 0, "timestamp": ""} == {
        "event": "request",
        "service": "gateway",
        "request_id": "gw-log-1",
        "principal": str(employee),
        "method": "GET",
        "path": "/api/v1/accounts",
        "status": 502,
        "level": "info",
        "duration_ms": 0,
        "timestamp": "",
    }
    failure = [line for line in by_id["gw-log-1"] if line["event"] == "upstream_failed"]
    assert failure and failure[0]["upstream"] == "key_account" and failure[0]["service"] == "gateway"
    unknown = [line for line in by_id["gw-log-2"] if line["event"] == "request"]
    assert unknown[0]["status"] == 404 and unknown[0]["principal"] is None
