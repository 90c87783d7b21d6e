"""`sanlun up` as a real process: a crashed child comes back, SIGTERM stops the
gateway before the services (a request in flight completes), kill -9 of the
supervisor leaves nothing behind that the next run does not deal with."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sanlun.supervisor import ProcessSpec, SupervisorError, check_ports
from tests.e2e.system import (
    PROCESSES,
    RunningSystem,
    free_base_port,
    sanlun_env,
    start_sanlun_up,
    stop,
    wait_until_up,
)
from tests.support import auth

pytestmark = pytest.mark.e2e

REP = auth(employee=uuid.uuid4(), org_unit="/group/east/team-1", roles=("rep",))
OPS = auth(org_unit="/group", roles=("ops",))


def start(env: dict[str, str], base_port: int, *args: str) -> RunningSystem:
    return start_sanlun_up(None, base_port, "--restart-delay", "0.2", *args, env=env)


@pytest.fixture
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    running = start(sanlun_env(committed_database_url), free_base_port())
    try:
        wait_until_up(running, timeout=60)
        yield running
    finally:
        stop(running)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def index_of(system: RunningSystem, pattern: str) -> int:
    return next(i for i, line in enumerate(system.lines) if re.search(pattern, line))


def test_a_killed_service_comes_back_and_the_others_keep_serving(system):
    before = dict(system.pids)
    killed_at = time.monotonic()
    os.kill(before["opportunity"], signal.SIGKILL)
    match = system.wait_for_line(r"supervisor +\| [\d:.]+ opportunity \(pid (\d+)\) is ready again", timeout=20)
    back_after = time.monotonic() - killed_at
    new_pid = int(match.group(1))
    assert new_pid != before["opportunity"]
    assert back_after < 15, system.output()[-3000:]
    system.wait_for_line(
        rf"opportunity \(pid {before['opportunity']}\) was killed by signal 9 \(SIGKILL\); "
        r"restarting it in 0.2s \(attempt 1\)",
        timeout=1,
    )
    # The others were not touched, and the whole system answers again.
    assert all(alive(pid) for name, pid in before.items() if name != "opportunity")
    health = httpx.get(system.url("gateway") + "/health", headers=OPS, timeout=10).json()
    assert {s["name"]: s["status"] for s in health["services"]}["opportunity"] == "ready", health
    assert httpx.get(system.url("gateway") + "/api/v1/opportunities", headers=REP, timeout=10).status_code == 200
    print(f"opportunity ready again {back_after:.2f}s after kill -9")

    # The gateway too: kill it twice in a row, the second wait is doubled.
    os.kill(before["gateway"], signal.SIGKILL)
    match = system.wait_for_line(r"gateway restarted as pid (\d+)", timeout=10)
    os.kill(int(match.group(1)), signal.SIGKILL)
    system.wait_for_line(
        r"gateway \(pid \d+\) was killed by signal 9 \(SIGKILL\); restarting it in 0.4s \(attempt 2\)", 10
    )
    system.wait_for_line(r"gateway \(pid \d+\) is ready again", timeout=20)
    assert httpx.get(system.url("gateway") + "/health/ready", timeout=10).status_code == 200
    assert all(alive(pid) for name, pid in before.items() if name not in ("opportunity", "gateway"))

    # kill -9 of the supervisor itself: every child gets SIGTERM from the kernel (PR_SET_PDEATHSIG).
    children = [int(p) for p in re.findall(r"restarted as pid (\d+)", system.output())]
    children += [pid for name, pid in before.items() if name not in ("opportunity", "gateway")]
    system.process.kill()
    assert wait_gone(children, timeout=15) == [], system.output()[-3000:]


def test_the_processes_show_no_banner_and_send_the_security_headers(system):
    """Real uvicorn processes as `sanlun up` starts them (issue 16)."""
    for name in ("gateway", "opportunity"):
        base = system.url(name)
        answers = [
            httpx.get(base + "/health/live", timeout=10),
            httpx.get(base + "/health/ready", timeout=10),
            httpx.get(base + "/api/v1/opportunities", timeout=10),  # 401
            httpx.get(base + "/nowhere", timeout=10),  # 404
            httpx.get(base + "/api/v1/opportunities", headers=REP, timeout=10),  # proxied, or served
        ]
        assert [a.status_code for a in answers] == [200, 200, 401, 404, 200]
        for answer in answers:
            assert "server" not in answer.headers, (name, answer.headers)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert answer.headers["cache-control"] == "no-store"
        # Probes answer without credentials, without internals.
        assert answers[1].json()["checks"] == {}
        assert httpx.get(base + "/health", timeout=10).json() == {"status": "ok"}
        assert httpx.get(base + "/metrics", timeout=10).status_code == 401
        assert httpx.get(base + "/metrics", headers=OPS, timeout=10).status_code == 200
    detailed = httpx.get(system.url("gateway") + "/health", headers=OPS, timeout=10).json()
    assert {s["status"] for s in detailed["services"]} == {"ready"}


def test_sigterm_stops_the_gateway_first_and_a_request_in_flight_completes(system):
    """The opportunity service is paused (SIGSTOP) so a request through the
    gateway is in flight when `sanlun up` gets SIGTERM; it is resumed once the
    gateway is draining. The services are stopped only after the gateway."""
    service = system.pids["opportunity"]
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["response"] = httpx.get(
                system.url("gateway") + f"/api/v1/opportunities/{uuid.uuid4()}",
                headers=REP,
                timeout=30,
            )
        except httpx.HTTPError as exc:
            result["error"] = exc

    os.kill(service, signal.SIGSTOP)
    try:
        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(1.0)  # the gateway has forwarded it and waits for the answer
        system.process.terminate()
        system.wait_for_line(r"supervisor +\| [\d:.]+ stopping gateway", timeout=5)
        time.sleep(1.0)
        assert caller.is_alive(), result  # the gateway is still waiting for it...
        assert not any("stopping opportunity" in line for line in system.lines)  # ...and the services are up
    finally:
        os.kill(service, signal.SIGCONT)
    caller.join(timeout=20)
    assert "error" not in result, result
    response = result["response"]
    assert isinstance(response, httpx.Response)
    assert response.status_code == 404, response.text  # the service's answer, not the gateway's 502/504
    assert system.process.wait(timeout=30) == 0, system.output()[-3000:]
    gateway_stopped = index_of(system, r"supervisor +\| [\d:.]+ stopped gateway in")
    services_stopping = index_of(system, r"supervisor +\| [\d:.]+ stopping opportunity")
    assert gateway_stopped < services_stopping
    first_service_shutdown = min(
        index_of(system, rf"^{name} +\| .*Shutting down") for name in PROCESSES if name != "gateway"
    )
    assert gateway_stopped < first_service_shutdown
    assert wait_gone(list(system.pids.values()), timeout=5) == []
    system.wait_for_line(r"^Stopped\.$", timeout=2)


def embedded_env(home: Path) -> dict[str, str]:
    env = sanlun_env("unused")
    del env["SANLUN_DATABASE_URL"]
    env.pop("SANLUN_TEST_DATABASE_URL", None)
    return {**env, "SANLUN_HOME": str(home)}


def postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_kill_9_of_up_with_the_embedded_database_then_up_again(tmp_path):
    env = embedded_env(tmp_path)
    data = tmp_path / "pgdata"
    first = start(env, free_base_port())
    try:
        wait_until_up(first, timeout=60)
        old_server = postmaster_pid(data)
        assert old_server and alive(old_server)
        first.process.kill()
        first.process.wait(10)
        # The children follow the supervisor; the server (pg_ctl daemonizes it) stays.
        assert wait_gone(list(first.pids.values()), timeout=15) == []
        assert alive(old_server)
    finally:
        stop(first)

    second = start(env, free_base_port())
    try:
        wait_until_up(second, timeout=60)
        second.wait_for_line(
            rf"^Stopped a stale embedded PostgreSQL \(pid {old_server}\) left running by pid {first.process.pid}, "
            r"which is gone \(killed\?\); starting it afresh\.$",
            timeout=1,
        )
        assert not alive(old_server)
        new_server = postmaster_pid(data)
        assert new_server and new_server != old_server
        assert httpx.get(second.url("gateway") + "/health/ready", timeout=10).status_code == 200
    finally:
        code = stop(second)
    assert code == 0, second.output()[-3000:]
    second.wait_for_line(rf"supervisor +\| [\d:.]+ Embedded PostgreSQL \(pid {new_server}\) stopped\.$", timeout=1)
    assert wait_gone([new_server], timeout=5) == []
    assert postmaster_pid(data) is None
    assert wait_gone(list(second.pids.values()), timeout=5) == []


def test_a_port_held_by_a_child_of_a_dead_up_is_freed_and_said(tmp_path):
    """A process whose command line says it is a child of a `sanlun up` that
    is not its parent (re-parented: that supervisor is gone) is stopped; any
    other owner is only named."""
    port = free_base_port(start=31000)
    gone_supervisor = 999_999_999  # not a pid: nobody's parent
    code = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen(); print('listening', flush=True); time.sleep(60)\n"
    )
    orphan = subprocess.Popen(
        [sys.executable, "-c", code, "sanlun.supervisor", "child", str(gone_supervisor)],
        stdout=subprocess.PIPE,
        text=True,
        process_group=0,
    )
    try:
        assert orphan.stdout and orphan.stdout.readline().strip() == "listening"
        said: list[str] = []
        check_ports("127.0.0.1", [ProcessSpec("gateway", "x:y", port)], say=said.append)
        assert said == [
            (
                f"Port {port} is held by pid {orphan.pid}, a child of a `sanlun up` (pid {gone_supervisor}) "
                "that is gone: stopping it."
            )
        ]
        assert orphan.wait(timeout=5) == -signal.SIGTERM
    finally:
        orphan.kill()
        orphan.wait()
        if orphan.stdout:
            orphan.stdout.close()

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(
            SupervisorError, match=rf"Port {port} on 127.0.0.1 \(for gateway\) is already in use by pid {os.getpid()}"
        ):
            check_ports("127.0.0.1", [ProcessSpec("gateway", "x:y", port)], say=lambda text: None)
