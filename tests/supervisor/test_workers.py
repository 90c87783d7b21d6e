"""`sanlun up --workers N`: uvicorn workers under each process, for machines
with more cores. The flag and SANLUN_WORKERS reach every process's uvicorn;
a real system with two workers per process serves through the gateway, and a
process killed outright comes back without its old workers holding the port."""

from __future__ import annotations

import argparse
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sanlun.cli import build_parser, process_specs, up_workers
from sanlun.supervisor import WORKER_HEALTHCHECK_SECONDS, Supervisor
from tests.e2e.system import PROCESSES, RunningSystem, free_base_port, sanlun_env, start_sanlun_up, stop, wait_until_up
from tests.supervisor.test_up import alive, wait_gone
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))
REP = auth(employee=uuid.uuid4(), org_unit="/group/east/team-1", roles=("rep",))


def up_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["up", *argv])


def test_the_flag_wins_over_the_environment_which_wins_over_one(monkeypatch):
    monkeypatch.delenv("SANLUN_WORKERS", raising=False)
    assert up_workers(up_args()) == 1
    monkeypatch.setenv("SANLUN_WORKERS", "3")
    assert up_workers(up_args()) == 3
    assert up_workers(up_args("--workers", "2")) == 2
    monkeypatch.setenv("SANLUN_WORKERS", "many")
    with pytest.raises(ValueError, match="SANLUN_WORKERS='many'"):
        up_workers(up_args())
    with pytest.raises(SystemExit):
        up_args("--workers", "0")


def test_every_process_gets_the_workers_and_a_single_worker_gets_no_flag():
    specs = process_specs(8000)
    one = Supervisor(specs, host="127.0.0.1", env={})
    assert all("--workers" not in one.command(s) for s in specs)
    two = Supervisor(specs, host="127.0.0.1", env={}, workers=2)
    for spec in specs:
        command = two.command(spec)
        assert command[command.index("--workers") + 1] == "2"
        assert command[command.index("--timeout-worker-healthcheck") + 1] == str(WORKER_HEALTHCHECK_SECONDS)
    with pytest.raises(ValueError, match="at least 1"):
        Supervisor(specs, host="127.0.0.1", env={}, workers=0)


def workers_of(pid: int) -> set[int]:
    """uvicorn's worker processes under `pid` (multiprocessing's resource tracker is not one)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.add(int(child))
    return found


@pytest.fixture
def system(committed_database_url: str) -> Iterator[RunningSystem]:
    running = start_sanlun_up(
        None, free_base_port(), "--workers", "2", "--restart-delay", "0.2", env=sanlun_env(committed_database_url)
    )
    try:
        wait_until_up(running, timeout=120)
        yield running
    finally:
        stop(running)


@pytest.mark.e2e
def test_two_workers_per_process_serve_and_a_killed_process_comes_back_with_new_ones(system):
    workers = {name: workers_of(pid) for name, pid in system.pids.items()}
    assert {name: len(w) for name, w in workers.items()} == dict.fromkeys(PROCESSES, 2), system.output()[-3000:]
    system.wait_for_line(r"^Each process above runs 2 uvicorn workers", timeout=1)
    gateway = system.url("gateway")
    health = httpx.get(gateway + "/health", headers=OPS, timeout=10).json()
    assert {s["name"]: s["status"] for s in health["services"]} == dict.fromkeys(PROCESSES[1:], "ready"), health
    # several requests in a row, each answered by one worker or the other behind each port
    for _ in range(6):
        assert httpx.get(gateway + "/api/v1/opportunities", headers=REP, timeout=10).status_code == 200

    # kill -9 of a process's uvicorn parent: its workers go with it, so the one started
    # in its place can bind the port again
    name = "resource_share"
    os.kill(system.pids[name], signal.SIGKILL)
    match = system.wait_for_line(rf"supervisor +\| [\d:.]+ {name} \(pid (\d+)\) is ready again", timeout=90)
    assert wait_gone(sorted(workers[name]), timeout=5) == []
    new_pid = int(match.group(1))
    assert len(workers_of(new_pid)) == 2
    assert all(alive(p) for n, ws in workers.items() if n != name for p in ws)
    health = httpx.get(gateway + "/health", headers=OPS, timeout=10).json()
    assert {s["name"]: s["status"] for s in health["services"]}[name] == "ready", health

    # SIGTERM: every parent and every worker is gone
    everyone = [p for ws in workers.values() for p in ws] + list(system.pids.values()) + [new_pid]
    everyone += sorted(workers_of(new_pid))
    assert stop(system) == 0, system.output()[-3000:]
    assert wait_gone(everyone, timeout=10) == []
