"""The restart policy of `sanlun up`, with an injected clock: no waiting."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pytest

from sanlun.cli import build_parser, restart_policy
from sanlun.supervisor import Backoff, ProcessSpec, RestartPolicy, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_the_delay_doubles_from_the_first_up_to_the_cap():
    backoff = Backoff(RestartPolicy(initial_delay=0.5, max_delay=10), Clock())
    assert [backoff.failed() for _ in range(8)] == [0.5, 1, 2, 4, 8, 10, 10, 10]
    assert backoff.failures == 8


def test_a_child_ready_for_reset_after_seconds_starts_over():
    clock = Clock()
    backoff = Backoff(RestartPolicy(initial_delay=0.5, max_delay=10, reset_after=60), clock)
    for _ in range(4):
        backoff.failed()
    backoff.ready()
    clock.advance(60)
    assert backoff.failed() == 0.5
    assert backoff.failures == 1


def test_a_child_that_fails_soon_after_ready_keeps_backing_off():
    clock = Clock()
    backoff = Backoff(RestartPolicy(initial_delay=0.5, max_delay=10, reset_after=60), clock)
    for _ in range(3):
        backoff.failed()
    backoff.ready()
    clock.advance(59)
    assert backoff.failed() == 4


def test_a_child_that_never_gets_ready_keeps_backing_off_however_long_it_ran():
    clock = Clock()
    backoff = Backoff(RestartPolicy(initial_delay=1, max_delay=30, reset_after=5), clock)
    backoff.failed()
    clock.advance(120)  # alive but never ready: not a reason to start over
    assert backoff.failed() == 2


def test_ready_twice_keeps_the_first_time():
    clock = Clock()
    backoff = Backoff(RestartPolicy(reset_after=60), clock)
    backoff.failed()
    backoff.ready()
    clock.advance(30)
    backoff.ready()
    clock.advance(30)
    assert backoff.failed() == RestartPolicy().initial_delay


def test_the_crash_loop_limit_gives_up_after_that_many_restarts_in_a_row():
    backoff = Backoff(RestartPolicy(initial_delay=1, max_delay=4, max_failures=3), Clock())
    assert [backoff.failed() for _ in range(4)] == [1, 2, 4, None]


def test_no_limit_never_gives_up():
    backoff = Backoff(RestartPolicy(initial_delay=1, max_delay=4, max_failures=0), Clock())
    delays = [backoff.failed() for _ in range(2000)]
    assert delays[:3] == [1, 2, 4]
    assert set(delays[3:]) == {4}


def test_the_policy_reads_its_environment_and_flags_win():
    env = {"SANLUN_RESTART_INITIAL_DELAY": "0.1", "SANLUN_RESTART_MAX_DELAY": "2", "SANLUN_RESTART_MAX_FAILURES": "5"}
    assert RestartPolicy.from_env(env) == RestartPolicy(initial_delay=0.1, max_delay=2, reset_after=60, max_failures=5)
    with pytest.raises(ValueError, match="SANLUN_RESTART_MAX_DELAY"):
        RestartPolicy.from_env({"SANLUN_RESTART_MAX_DELAY": "soon"})
    with pytest.raises(ValueError, match="invalid restart policy"):
        RestartPolicy(initial_delay=5, max_delay=1)


def test_up_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("SANLUN_RESTART_INITIAL_DELAY", "0.1")
    monkeypatch.setenv("SANLUN_RESTART_RESET_AFTER", "7")
    args = build_parser().parse_args(["up", "--restart-delay", "0.2", "--max-restarts", "3"])
    assert isinstance(args, argparse.Namespace)
    assert restart_policy(args) == RestartPolicy(initial_delay=0.2, max_delay=15, reset_after=7, max_failures=3)


class FakeOut:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.extend(text.splitlines())

    def flush(self) -> None:
        pass


def test_supervise_restarts_a_crashing_child_with_backoff_then_gives_up(monkeypatch):
    """The loop itself, with a child that exits at once and a fake clock."""
    clock = Clock()
    out = FakeOut()
    supervisor = Supervisor(
        [ProcessSpec("crashy", "x:y", 1)],
        host="127.0.0.1",
        env={},
        out=out,  # type: ignore[arg-type]
        restart=RestartPolicy(initial_delay=1, max_delay=2, max_failures=3),
        clock=clock,
    )
    spawned: list[subprocess.Popen[str]] = []

    def spawn(spec: ProcessSpec) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        )
        spawned.append(proc)
        return proc

    monkeypatch.setattr(supervisor, "_spawn", spawn)
    monkeypatch.setattr("sanlun.supervisor._answers_ready", lambda *a, **k: False)
    supervisor.start()

    def tick() -> None:  # the clock moves 0.5 s per poll
        clock.advance(0.5)
        time.sleep(0.02)

    monkeypatch.setattr(supervisor.stopping, "wait", lambda timeout: tick())
    failed = supervisor.supervise(ready_timeout=60)
    supervisor.stop()
    assert failed is supervisor.children[0]
    assert len(spawned) == 4  # the first start and three restarts
    events = [line.split(" ", 3)[-1] for line in out.lines if line.startswith("supervisor")]
    exits = [e for e in events if "exited with code 3" in e]
    assert [e.split("; ", 1)[1] for e in exits[:3]] == [
        "restarting it in 1s (attempt 1)",
        "restarting it in 2s (attempt 2)",
        "restarting it in 2s (attempt 3)",
    ]
    assert "that is 4 failures in a row, more than the 3 restarts allowed: giving up" in exits[3]
    assert sum("restarted as pid" in e for e in events) == 3
    assert any(line.startswith("crashy") and line.endswith("| boom") for line in out.lines)
