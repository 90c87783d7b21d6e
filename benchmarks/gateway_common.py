"""Shared machinery of the gateway benchmarks: real uvicorn processes for the
four services and one or more gateways, seeding through the services' APIs,
and a load generator that runs in its own process (so its CPU is not counted
against the servers) replaying a prepared list of requests.

    python benchmarks/gateway_common.py --load plan.json --concurrency 32   (internal)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "sanlun-benchmark-secret-0123456789abcdef"
SERVICE_SECRET = "sanlun-benchmark-service-secret-0123456789"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(subject: str, org_unit: str, roles: list[str]) -> str:
    from sanlun.kernel.auth import mint_token

    return "Bearer " + mint_token(SECRET, subject=subject, org_unit_path=org_unit, roles=roles, ttl_seconds=7200)


@dataclass
class Processes:
    services: dict[str, str] = field(default_factory=dict)  # name -> url
    gateways: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    logs: Path | None = None  # each process's output, removed on exit


@contextmanager
def system(
    database_url: str,
    gateways: dict[str, dict[str, str]],
    *,
    env: dict[str, str] | None = None,
    as_sanlun_up: bool = False,
) -> Iterator[Processes]:
    """Migrate every schema, start the four services and the named gateways
    (each with its own extra environment), stop them all on exit. `env` is
    added to every process's environment; `as_sanlun_up` starts each one with
    the command line `sanlun up` gives it (`sanlun_up_argv`)."""
    from gateway.app import MIGRATIONS_DIR
    from sanlun.kernel.migrations import upgrade
    from sanlun.topology import SERVICES

    for spec in SERVICES:
        upgrade(spec.migrations_dir, spec.schema, database_url)
    upgrade(MIGRATIONS_DIR, "gateway", database_url)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ports = {spec.name: free_port() for spec in SERVICES}
    base_env = {
        **os.environ,
        "SANLUN_DATABASE_URL": database_url,
        "SANLUN_ENVIRONMENT": "test",
        "SANLUN_LOG_LEVEL": "WARNING",
        "SANLUN_JWT_SECRET": SECRET,
        "SANLUN_SERVICE_SECRET": SERVICE_SECRET,
        "SANLUN_DISPATCHER_ENABLED": "false",
        **{f"SANLUN_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()},
        **(env or {}),
    }
    logs = Path(tempfile.mkdtemp(prefix="sanlun-bench-"))
    children: list[subprocess.Popen[bytes]] = []
    out = Processes(logs=logs)
    try:
        for spec in SERVICES:
            named = spec.name if as_sanlun_up else None
            children.append(
                _start(spec.app_factory, ports[spec.name], base_env, logs / f"{spec.name}.log", sanlun_up_name=named)
            )
            out.services[spec.name] = f"http://127.0.0.1:{ports[spec.name]}"
            out.pids[spec.name] = children[-1].pid
        for name, extra in gateways.items():
            port = free_port()
            named = name if as_sanlun_up else None
            children.append(
                _start(
                    "gateway.app:create_app", port, {**base_env, **extra}, logs / f"{name}.log", sanlun_up_name=named
                )
            )
            out.gateways[name] = f"http://127.0.0.1:{port}"
            out.pids[name] = children[-1].pid
        for url in [*out.services.values(), *out.gateways.values()]:
            _wait_ready(url)
        yield out
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(logs, ignore_errors=True)


def sanlun_up_argv(name: str, factory: str, port: int) -> list[str]:
    """The command line `sanlun up` starts process `name` with (its uvicorn
    flags: loop, HTTP parser, lifespan, headers, log config), asked of the
    supervisor itself so a benchmark follows it. The child watches this
    process as its supervisor: it gets SIGTERM when this process dies."""
    from sanlun.supervisor import ProcessSpec, Supervisor

    return Supervisor([], host="127.0.0.1", env={}).command(ProcessSpec(name, factory, port))


def _start(
    factory: str, port: int, env: dict[str, str], log_path: Path, *, sanlun_up_name: str | None = None
) -> subprocess.Popen[bytes]:
    """uvicorn serving `factory` on `port`; with `sanlun_up_name`, started as
    `sanlun up` starts that process (`sanlun_up_argv`)."""
    argv = (
        sanlun_up_argv(sanlun_up_name, factory, port)
        if sanlun_up_name
        else [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    )
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def call(method: str, url: str, authorization: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": authorization,
            **({"Content-Type": "application/json"} if data else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {url} answered {exc.code}: {exc.read()[:300]!r}") from None
    return json.loads(raw) if raw else {}


def ensure_org_unit(base: str, authorization: str, path: str) -> None:
    """The org unit at `path`, and every unit above it, made when missing at
    `base` (the employee lifecycle service or a gateway): employees live only
    in existing units (issue 16)."""
    import httpx

    from tests.support import ensure_org_unit_sync

    with httpx.Client(base_url=base, timeout=30) as client:
        ensure_org_unit_sync(client, path, headers={"Authorization": authorization})


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds of each process so far (Linux /proc)."""
    return {name: process_cpu_seconds(pid) for name, pid in pids.items()}


def process_cpu_seconds(pid: int) -> float:
    # /proc/<pid>/stat: utime and stime are fields 14 and 15, in clock ticks;
    # the command name (field 2, in parentheses) may itself hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(plan: list[dict], concurrency: int) -> dict:
    """Replay `plan` ([{method, url, headers, body}]) from a separate process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--load", f.name, "--concurrency", str(concurrency)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def _replay(plan: list[dict], concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    position = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal position
        while position < len(plan):
            item = plan[position]
            position += 1
            started = time.perf_counter()
            async with session.request(
                item["method"], item["url"], headers=item["headers"], json=item.get("body")
            ) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def new_id() -> str:
    return uuid.uuid4().hex[:8]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_replay(json.loads(Path(args.load).read_text()), args.concurrency))))
