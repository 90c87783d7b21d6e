"""Bulk writes through the gateway: opportunity bulk upsert and `sanlun import`.

Issue 17's targets: at least 3,000 rows/s of opportunity bulk upsert in
1,000-row batches through the gateway; the sample import under 5 s end to end;
a 100,000-row import under 60 s with the importer under 200 MB.

Makes a fresh database on the server of `SANLUN_DATABASE_URL` (dropped at the
end), migrates it, starts the four services and a gateway as real uvicorn
processes (the shipped gateway settings, the outbox dispatchers on, as under
`sanlun up`), then:

1. `sanlun import` of the sample set (`sanlun/data/maven_crm/`) in its own
   process, into the empty system: wall time, the importer's CPU and peak
   memory, and each server's CPU while it ran;
2. opportunity bulk upsert through the gateway in `--batch`-row batches
   (`--rows` in all), one client on one kept-alive connection like the
   importer: every row created, then every row updated (amount, name and
   stage; a tenth of them won, a tenth with a new team), then the same bodies
   again (all unchanged); rows/s and CPU ms per row of each process;
3. with `--preload N`: N other deals bulk-created through the API (another
   organisation's), then the sample re-imported again (nothing to change): a
   re-import must cost what the file costs, not what the system holds, so this
   time is compared with the no-op re-import of step 1 (0 other deals);
4. with `--big N`: an import of a generated data set of N deals (the sample's
   people, accounts and products; N pipeline rows cycling the sample's rows
   under new ids), wall time and the importer's peak memory.

Every figure is printed with the 1-minute load average when it was taken (the
machine is shared: the wall times move with it).

CPU is read from each process (psutil CPU-time deltas), so load on the other
core disturbs it less than the wall time. `postgres` is the CPU of the
database backends of this run's database (those alive at the end of a phase).

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bulk_upsert.py [--rows 5000] [--big 100000] [--skip-sample] \\
        [--preload 300000]

    .venv/bin/python benchmarks/bulk_upsert.py --generate DIR --big 100000   (just write the data set)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway_common import ROOT, cpu_seconds, system, token

SAMPLE = ROOT / "sanlun" / "data" / "maven_crm"


# -- the processes ---------------------------------------------------------------------------------


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    from tests.support import create_database, drop_database, with_database

    name = f"sanlun_bench_bulk_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(server_url, name))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(drop_database(server_url, name))


@contextmanager
def running(database_url: str, *, dispatcher: bool = True) -> Iterator[dict[str, tuple[str, int]]]:
    """The four services and one gateway (shipped settings), migrated, started as
    `sanlun up` starts them and ready: name -> (url, pid)."""
    env = {"SANLUN_DISPATCHER_ENABLED": "true" if dispatcher else "false"}
    with system(database_url, {"gateway": {}}, env=env, as_sanlun_up=True) as procs:
        urls = {**procs.services, **procs.gateways}
        yield {name: (urls[name], pid) for name, pid in procs.pids.items()}


def cpu(pids: dict[str, int], database: str) -> dict[str, float]:
    """CPU seconds of each process, and of this database's postgres backends."""
    import psutil

    out = cpu_seconds(pids)
    backends = 0.0
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "postgres" and f" {database} " in " ".join(p.info["cmdline"] or []) + " ":
                t = p.cpu_times()
                backends += t.user + t.system
        except psutil.Error:
            continue
    out["postgres"] = backends
    return out


def cpu_line(before: dict[str, float], after: dict[str, float], rows: int) -> str:
    parts = [f"{name} {(after[name] - before.get(name, 0.0)) / rows * 1000:.3f}" for name in after]
    return "CPU ms/row: " + ", ".join(parts)


@contextmanager
def profiled(base: Path | None, phase: str, pid: int) -> Iterator[None]:
    """py-spy (in the venv) sampling `pid` meanwhile, collapsed stacks written to `base`.<phase>."""
    if base is None:
        yield
        return
    out = base.with_name(f"{base.name}.{phase}")
    spy = Path(sys.executable).parent / "py-spy"
    child = subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--format", "raw", "--output", str(out), "--rate", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    try:
        yield
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(30)
        print(f"profile: {out}")


@contextmanager
def pg_sampled(enabled: bool, url: str, database: str) -> Iterator[None]:
    """Meanwhile, which statements this database's backends are running (pg_stat_activity
    every 20 ms), printed as the most sampled ones: where the database's CPU goes."""
    if not enabled:
        yield
        return
    import collections

    import asyncpg

    seen: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    async def sample() -> None:
        conn = await asyncpg.connect(url)
        try:
            while not stop.is_set():
                rows = await conn.fetch(
                    "SELECT query, wait_event_type FROM pg_stat_activity"
                    " WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()",
                    database,
                )
                for r in rows:
                    seen[f"[{r['wait_event_type'] or 'cpu'}] " + " ".join(r["query"].split())[:150]] += 1
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    thread = threading.Thread(target=lambda: asyncio.run(sample()), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        total = sum(seen.values()) or 1
        print(f"postgres: {total} active-backend samples, the most frequent statements:")
        for query, n in seen.most_common(12):
            print(f"  {n * 100 / total:5.1f}%  {query}")


# -- the importer in its own process ---------------------------------------------------------------


def run_import(gateway: str, data_dir: Path | None, label: str, pids: dict[str, int], database: str) -> dict:
    import psutil

    auth = token("sanlun-import", "/", ["group_admin"]).removeprefix("Bearer ")
    command = [sys.executable, "-m", "sanlun.importer", "--url", gateway, "--token", auth]
    if data_dir is not None:
        command += ["--data", str(data_dir)]
    before = cpu(pids, database)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    stop = threading.Event()

    def watch() -> None:  # RSS sampled (ru_maxrss of wait4 also says it, the sampler shows the shape)
        nonlocal peak
        proc = psutil.Process(child.pid)
        while not stop.is_set():
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                return
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert child.stdout is not None
    lines, phases = [], []
    for line in child.stdout:  # progress lines as plain text: when each entity started and finished
        lines.append(line)
        if line.count(":") == 1 and "/" not in line.split(":")[1] and "rows read" not in line:
            phases.append(f"{time.perf_counter() - started:6.2f} s  {line.strip()[:90]}")
    output = "".join(lines)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    after = cpu(pids, database)
    code = os.waitstatus_to_exitcode(status)
    summary = [line for line in output.splitlines() if "rows read =" in line and "opportunit" in line]
    print(f"\n== import: {label} ==")
    print(f"exit {code}, {seconds:.2f} s wall (load average {load()})")
    # ru_maxrss counts the forked copy of this process before the importer's exec: an upper bound.
    print(
        f"importer: {usage.ru_utime + usage.ru_stime:.2f} s CPU, peak RSS {peak / 2**20:.0f} MB "
        f"(sampled every 50 ms; wait4's ru_maxrss {usage.ru_maxrss / 1024:.0f} MB)"
    )
    print("server CPU s: " + ", ".join(f"{n} {after[n] - before[n]:.2f}" for n in after))
    for line in phases:
        print("  " + line)
    for line in summary[:3]:
        print("  | " + line)
    if code != 0:
        print(output[-3000:])
    return {"seconds": seconds, "exit": code, "rss_mb": peak / 2**20}


def load() -> str:
    """The load averages (1, 5, 15 minutes) as `uptime` says them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def generate(out: Path, deals: int) -> Path:
    """The sample's people, accounts and products, and `deals` pipeline rows
    cycling the sample's rows under new opportunity ids."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("accounts.csv", "products.csv", "sales_teams.csv", "data_dictionary.csv"):
        shutil.copyfile(SAMPLE / name, out / name)
    with (SAMPLE / "sales_pipeline.csv").open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    with (out / "sales_pipeline.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(deals):
            row = list(rows[i % len(rows)])
            row[0] = f"G{i:09d}"
            writer.writerow(row)
    return out


# -- bulk upsert through the gateway ---------------------------------------------------------------


def seed(gateway: str, auth: str) -> dict:
    import httpx

    with httpx.Client(base_url=gateway, headers={"Authorization": auth}, timeout=120) as c:

        def bulk(path: str, items: list[dict], **request: str) -> list[dict]:
            r = c.post(path, json={"items": items, **request})
            assert r.status_code == 200, r.text[:500]
            results = r.json()["results"]
            assert all(x["status"] != "failed" for x in results), results[:3]
            return results

        bulk(
            "/api/v1/org-units:bulk-upsert",
            [
                {"external_id": "B-ROOT", "slug": "bench", "name": "Bench"},
                {"external_id": "B-TEAM", "slug": "team", "name": "Bench team", "parent_external_id": "B-ROOT"},
            ],
        )
        people = bulk(
            "/api/v1/employees:bulk-upsert",
            [
                {
                    "external_id": f"B-E-{i}",
                    "name": f"Bench rep {i}",
                    "email": f"bench-{i}@bench.example",
                    "org_unit_path": "/bench/team",
                }
                for i in range(20)
            ],
        )
        accounts = bulk(
            "/api/v1/accounts:bulk-upsert",
            [{"external_id": f"B-A-{i}", "name": f"Bench account {i}", "org_unit_path": "/bench"} for i in range(50)],
        )
        solutions = bulk(
            "/api/v1/solutions:bulk-upsert",
            [
                {
                    "external_id": f"B-S-{i}",
                    "name": f"Bench solution {i}",
                    "list_price": {"amount": "100.00", "currency": "USD"},
                }
                for i in range(5)
            ],
            organization_path="/bench/team",
        )
    return {
        "people": [p["id"] for p in people],
        "accounts": [a["id"] for a in accounts],
        "solutions": [s["id"] for s in solutions],
    }


def settle(url: str, timeout: float = 900.0) -> None:
    """Wait until every service's outbox has delivered the preload's events and the
    tables are analyzed, so the no-op re-import after it is measured alone (not
    beside 300,000 events still being consumed)."""
    import asyncpg

    async def pending() -> int:
        conn = await asyncpg.connect(url)
        try:
            counts = [
                await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE status = 'pending'")
                for schema in ("opportunity", "employee_lifecycle", "key_account", "resource_share")
            ]
            if not sum(counts):
                await conn.execute("ANALYZE")
            return sum(counts)
        finally:
            await conn.close()

    started = time.perf_counter()
    while (left := asyncio.run(pending())) and time.perf_counter() - started < timeout:
        time.sleep(2)
    print(f"   events delivered after the preload in {time.perf_counter() - started:.0f} s ({left} left)")


def preload(gateway: str, deals: int, batch: int = 1000) -> None:
    """`deals` other deals (another organisation's, `/bench`) bulk-created through the gateway."""
    import httpx

    auth = token(str(uuid.uuid4()), "/", ["group_admin"])
    refs = seed(gateway, auth)
    started = time.perf_counter()
    with httpx.Client(base_url=gateway, headers={"Authorization": auth}, timeout=300) as c:
        for start in range(0, deals, batch):
            numbers = range(start, min(deals, start + batch))
            items = [{**body(i, refs, round_=0), "external_id": f"P-O-{i:07d}"} for i in numbers]
            r = c.post("/api/v1/opportunities:bulk-upsert", json={"items": items})
            assert r.status_code == 200 and r.json()["failed"] == 0, r.text[:1000]
    seconds = time.perf_counter() - started
    print(f"\n== preloaded {deals:,} other deals in {seconds:.0f} s (load average {load()}) ==")


def body(i: int, refs: dict, *, round_: int) -> dict:
    people, accounts, solutions = refs["people"], refs["accounts"], refs["solutions"]
    row = {
        "external_id": f"B-O-{i:07d}",
        "name": f"Bench deal {i}" + (" (revised)" if round_ else ""),
        "owner_id": people[i % len(people)],
        "org_unit_path": "/bench/team",
        "account_id": accounts[i % len(accounts)] if i % 7 else None,
        "amount": {"amount": f"{1000 + i % 997 + (round_ * 50)}.00", "currency": "USD"},
        "expected_close_date": (dt.date(2027, 1, 1) + dt.timedelta(days=i % 300)).isoformat(),
        "stage": "lead" if not round_ else "qualified",
        "industry": "retail",
        "source": "bench",
        "solution_ids": [solutions[i % len(solutions)]],
        "team": [{"employee_id": people[(i + 1) % len(people)], "role": "presales"}],
    }
    if round_ and i % 10 == 0:
        row.update(stage="won", closed_on="2026-06-30")
    if round_ and i % 10 == 5:
        row["team"] = [{"employee_id": people[(i + 2) % len(people)], "role": "delivery"}]
    return row


def bench_bulk(gateway: str, pids: dict[str, int], database: str, rows: int, batch: int) -> dict[str, float]:
    import httpx

    auth = token(str(uuid.uuid4()), "/", ["group_admin"])
    refs = seed(gateway, auth)
    out = {}
    with httpx.Client(base_url=gateway, headers={"Authorization": auth}, timeout=300) as c:
        for phase, round_, want in (("create", 0, "created"), ("update", 1, "updated"), ("unchanged", 1, "unchanged")):
            before = cpu(pids, database)
            started = time.perf_counter()
            latencies = []
            for start in range(0, rows, batch):
                items = [body(i, refs, round_=round_) for i in range(start, min(rows, start + batch))]
                t = time.perf_counter()
                r = c.post("/api/v1/opportunities:bulk-upsert", json={"items": items})
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:1000]
                report = r.json()
                if report[want] != len(items):
                    counts = {k: report[k] for k in ("created", "updated", "unchanged", "failed")}
                    raise AssertionError(f"{counts}: {[x for x in report['results'] if x['status'] != want][:2]}")
            seconds = time.perf_counter() - started
            after = cpu(pids, database)
            out[phase] = rows / seconds
            latencies.sort()
            print(
                f"{phase:>9}: {rows} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s "
                f"(batch median {latencies[len(latencies) // 2] * 1000:.0f} ms)"
            )
            print("           " + cpu_line(before, after, rows))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows per bulk phase (default 5000)")
    parser.add_argument("--batch", type=int, default=1000, help="rows per bulk call (default 1000)")
    parser.add_argument("--big", type=int, default=0, help="also import a generated set of this many deals")
    parser.add_argument("--skip-sample", action="store_true", help="no import of the sample set")
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        metavar="N",
        help="bulk-create N other deals, then re-import the sample again (nothing to change) with them there",
    )
    parser.add_argument("--skip-bulk", action="store_true", help="no bulk upsert phases")
    parser.add_argument("--generate", type=Path, help="only write the generated data set (--big deals) to DIR")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record a process with py-spy during the measured phases (collapsed stacks to FILE.<phase>)",
    )
    parser.add_argument("--profile-process", default="opportunity", help="which process --profile records")
    parser.add_argument("--no-dispatcher", action="store_true", help="outbox dispatchers off (no event delivery)")
    parser.add_argument("--pg-sample", action="store_true", help="sample pg_stat_activity during each phase")
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.big or 100_000)
        print(f"wrote {args.generate}")
        return 0
    server = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    server = server.replace("postgresql+asyncpg://", "postgresql://")
    with fresh_database(server) as url, running(url, dispatcher=not args.no_dispatcher) as procs:
        database = url.rsplit("/", 1)[1]
        pids = {name: pid for name, (_, pid) in procs.items()}
        gateway = procs["gateway"][0]
        if not args.skip_sample:
            with (
                profiled(args.profile, "sample", pids[args.profile_process]),
                pg_sampled(args.pg_sample, url, database),
            ):
                run_import(gateway, None, "sample set (8,800 deals)", pids, database)
            with profiled(args.profile, "sample-again", pids[args.profile_process]):
                run_import(gateway, None, "sample set again (nothing to change), 0 other deals", pids, database)
            if args.preload:
                preload(gateway, args.preload)
                settle(url)
                with profiled(args.profile, "sample-preloaded", pids[args.profile_process]):
                    label = f"sample set again (nothing to change), {args.preload:,} other deals"
                    run_import(gateway, None, label, pids, database)
        if not args.skip_bulk:
            print(f"\n== opportunity bulk upsert through the gateway, {args.batch}-row batches ==")
            with profiled(args.profile, "bulk", pids[args.profile_process]), pg_sampled(args.pg_sample, url, database):
                bench_bulk(gateway, pids, database, args.rows, args.batch)
        if args.big:
            with tempfile.TemporaryDirectory(prefix="sanlun-big-") as tmp:
                data = generate(Path(tmp), args.big)
                with (
                    profiled(args.profile, "big", pids[args.profile_process]),
                    pg_sampled(args.pg_sample, url, database),
                ):
                    run_import(gateway, data, f"generated set ({args.big:,} deals)", pids, database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
