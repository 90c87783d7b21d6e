"""`sanlun up` as a real subprocess, for end-to-end tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sanlun.topology import GATEWAY_PORT, SERVICES
from tests.support import TEST_SECRET, TEST_SERVICE_SECRET

PROCESSES = ("gateway", *(s.name for s in SERVICES))


def sanlun_command() -> list[str]:
    script = Path(sys.executable).parent / "sanlun"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sanlun.cli"]


def free_base_port(start: int = 18000) -> int:
    """A base port with it and the next four free on 127.0.0.1. Each pytest-xdist
    worker looks in a range of its own (`gw1` 4000 above `gw0`), so two workers
    never pick the same free ports at once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    offset = 4000 * (int(worker) if worker.isdigit() else 0)
    for base in range(start + offset + (os.getpid() % 50) * 10, 60000, 10):
        if all(_bindable(base + i) for i in range(len(PROCESSES))):
            return base
    raise RuntimeError("no five free consecutive ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sanlun_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not re.fullmatch(r"SANLUN_\w+_DATABASE_URL", k)}
    return {
        **env,
        "SANLUN_DATABASE_URL": database_url,
        "SANLUN_JWT_SECRET": TEST_SECRET,
        "SANLUN_SERVICE_SECRET": TEST_SERVICE_SECRET,
        "SANLUN_ENVIRONMENT": "test",
    }


@dataclass
class RunningSystem:
    process: subprocess.Popen[str]
    base_port: int
    lines: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    reader: threading.Thread | None = None

    def url(self, process: str) -> str:
        port = self.base_port if process == "gateway" else self.base_port + _offset(process)
        return f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if match := re.search(pattern, line):
                    return match
            seen = len(self.lines)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}; sanlun up said:\n{self.output()[-6000:]}")


def _offset(name: str) -> int:
    return next(s.port for s in SERVICES if s.name == name) - GATEWAY_PORT


def start_sanlun_up(
    database_url: str | None, base_port: int, *args: str, env: dict[str, str] | None = None
) -> RunningSystem:
    """`sanlun up` on `database_url` (or with `env` as its whole environment)."""
    if env is None:
        assert database_url is not None, "give a database URL or the whole environment"
        env = sanlun_env(database_url)
    process = subprocess.Popen(
        [*sanlun_command(), "up", "--base-port", str(base_port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    system = RunningSystem(process, base_port)

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            system.lines.append(line.rstrip("\n"))

    system.reader = threading.Thread(target=collect, daemon=True)
    system.reader.start()
    return system


def wait_until_up(system: RunningSystem, timeout: float = 120) -> None:
    system.wait_for_line(r"^Sanlun is up:", timeout)
    for name in PROCESSES:
        match = system.wait_for_line(rf"^\s+{name}\s+http://\S+\s+pid (\d+)$", 5)
        system.pids[name] = int(match.group(1))


def stop(system: RunningSystem, timeout: float = 30) -> int:
    if system.process.poll() is None:
        system.process.terminate()
    try:
        code = system.process.wait(timeout)
    except subprocess.TimeoutExpired:
        system.process.kill()
        code = system.process.wait()
    if system.reader:
        system.reader.join(timeout=5)
    if system.process.stdout:
        system.process.stdout.close()
    return code
