"""What the gateway costs: GET one employee through the gateway vs directly.

Starts the employee_lifecycle service and the gateway as real uvicorn
processes on free ports (database: `SANLUN_DATABASE_URL`, migrated first and
seeded with one employee), then drives a fixed number of authenticated GETs
with ~32 concurrent connections, directly and through the gateway, from a
separate load process (an aiohttp client: wrk cannot stop after a fixed
number of requests, it always runs its whole duration). Prints
throughput, its ratio, median and p99 latency, and the CPU seconds each
server process spent per request (psutil).

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python benchmarks/gateway_proxy.py

The load generator, both servers and Postgres share the machine's cores, so
absolute figures move from run to run; CPU per request and the ratio are the
steady part (see FIELD-NOTES). Rounds alternate the order and medians are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

SECRET = "sanlun-benchmark-secret-0123456789abcdef"
SERVICE_SECRET = "sanlun-benchmark-service-secret-0123456789"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="GETs per measured run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="runs per target (medians are printed)")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # the aiohttp load process
    parser.add_argument("--authorization", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        result = asyncio.run(aiohttp_load(args.load, args.authorization, args.requests, args.concurrency))
        print(json.dumps(result))
        return 0
    database_url = os.environ.get("SANLUN_DATABASE_URL")
    if not database_url:
        print("Set SANLUN_DATABASE_URL to the PostgreSQL database to use.", file=sys.stderr)
        return 2
    return run(database_url, args.requests, args.concurrency, args.rounds)


def run(database_url: str, requests: int, concurrency: int, rounds: int) -> int:
    import psutil

    from sanlun.kernel.auth import mint_token
    from sanlun.kernel.migrations import upgrade
    from sanlun.topology import BY_NAME

    # A terminated benchmark still stops the servers it started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from gateway.app import MIGRATIONS_DIR

    spec = BY_NAME["employee_lifecycle"]
    upgrade(spec.migrations_dir, spec.schema, database_url)
    # The gateway is ready only with its own schema (API keys, rate-limit buckets) at head.
    upgrade(MIGRATIONS_DIR, "gateway", database_url)
    service_port, gateway_port = free_port(), free_port()
    service_url, gateway_url = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        "SANLUN_DATABASE_URL": database_url,
        "SANLUN_ENVIRONMENT": "test",
        "SANLUN_JWT_SECRET": SECRET,
        "SANLUN_SERVICE_SECRET": SERVICE_SECRET,
        "SANLUN_EMPLOYEE_LIFECYCLE_URL": service_url,
        # Only the request path is measured: no event delivery in the background.
        "SANLUN_DISPATCHER_ENABLED": "false",
    }
    logs = Path(tempfile.mkdtemp(prefix="sanlun-bench-"))
    servers = []
    try:
        servers.append(start_server(spec.app_factory, service_port, env, logs / "employee_lifecycle.log"))
        servers.append(start_server("gateway.app:create_app", gateway_port, env, logs / "gateway.log"))
        for url in (service_url, gateway_url):
            wait_ready(url)
        admin = "Bearer " + mint_token(SECRET, subject=str(uuid.uuid4()), org_unit_path="/group", roles=["group_admin"])
        employee_id = seed_employee(service_url, admin)
        # The employee reads their own record: the visibility filter is on the path.
        own = "Bearer " + mint_token(SECRET, subject=employee_id, org_unit_path="/group/bench", roles=["rep"])
        path = f"/api/v1/employees/{employee_id}"
        service_proc, gateway_proc = (psutil.Process(s.pid) for s in servers)
        targets = {"direct": service_url + path, "gateway": gateway_url + path}
        for url in targets.values():  # warm-up: connections, caches, JIT-free but lazy imports
            load(url, own, min(500, requests), concurrency)
        results: dict[str, list[dict]] = {"direct": [], "gateway": []}
        for i in range(rounds):
            for name in ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct"):
                before = cpu_seconds(gateway_proc), cpu_seconds(service_proc)
                result = load(targets[name], own, requests, concurrency)
                after = cpu_seconds(gateway_proc), cpu_seconds(service_proc)
                done = max(result["requests"], 1)
                result["gateway_cpu_ms"] = (after[0] - before[0]) / done * 1000
                result["service_cpu_ms"] = (after[1] - before[1]) / done * 1000
                results[name].append(result)
        report(results, requests, concurrency, rounds)
        return 0
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(logs, ignore_errors=True)


def start_server(factory: str, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def seed_employee(service_url: str, authorization: str) -> str:
    from gateway_common import ensure_org_unit

    ensure_org_unit(service_url, authorization, "/group/bench")
    body = json.dumps(
        {
            "name": "Bench Mark",
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
            "org_unit_path": "/group/bench",
        }
    ).encode()
    request = urllib.request.Request(
        service_url + "/api/v1/employees",
        data=body,
        method="POST",
        headers={"Authorization": authorization, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["id"])


def cpu_seconds(process) -> float:  # type: ignore[no-untyped-def]
    times = process.cpu_times()
    return float(times.user + times.system)


def load(url: str, authorization: str, requests: int, concurrency: int) -> dict:
    """Run the load in another process, so its CPU is not the benchmark's own."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--authorization",
            authorization,
            "--requests",
            str(requests),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def aiohttp_load(url: str, authorization: str, requests: int, concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            async with session.get(url, headers={"Authorization": authorization}) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def report(results: dict[str, list[dict]], requests: int, concurrency: int, rounds: int) -> None:
    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    rps = {name: statistics.median(r["requests"] / r["seconds"] for r in runs) for name, runs in results.items()}
    print(
        f"GET /api/v1/employees/{{id}}: {requests} requests x {rounds} rounds, "
        f"{concurrency} connections, load by an aiohttp client process, {os.cpu_count()} CPUs (medians)"
    )
    print(
        f"{'':9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'gateway CPU ms/req':>20}{'service CPU ms/req':>20}"
    )
    for name in ("direct", "gateway"):
        errors = sum(r["errors"] for r in results[name])
        print(
            f"{name:9}{rps[name]:>9.0f}{median(name, 'p50_ms'):>9.2f}{median(name, 'p99_ms'):>9.2f}{errors:>8}"
            f"{median(name, 'gateway_cpu_ms'):>20.3f}{median(name, 'service_cpu_ms'):>20.3f}"
        )
    print(f"throughput through the gateway / direct: {rps['gateway'] / rps['direct']:.2f}")
    print(
        f"gateway CPU per proxied request: {median('gateway', 'gateway_cpu_ms'):.3f} ms "
        f"({median('gateway', 'gateway_cpu_ms') / 1000:.6f} s)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
