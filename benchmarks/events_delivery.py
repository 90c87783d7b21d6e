"""Benchmark: events delivered and applied between two local services.

Starts the employee_lifecycle (publisher) and opportunity (consumer)
services as real uvicorn processes on a scratch database, writes
`employee.updated` events into the publisher's outbox through
`publish_many()` (as a request would), and reads the figures from the
outbox itself (`created_at` -> `delivered_at`). The publisher marks a row
delivered only after the consumer has answered, and the consumer answers
after it committed the event's effect with its inbox row, so `delivered_at`
is when the event had been applied. After each phase the script checks the
consumer's side: every event id in its inbox, and its real handler's effect,
the sales-people view holding every employee with the published version.

1. burst: N events written at once (one statement per 500); events
   delivered and applied per second, and the CPU each process spent on it;
2. steady: events written one per transaction at a fixed rate; median and
   p99 delivery latency.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/events_delivery.py [--burst 5000] [--rate 200] [--steady 2000] [--rounds 3]

`--rounds` repeats both phases on the same processes and prints the median
of each figure at the end. `--profile DIR` writes py-spy flame graphs of
both services over the first burst (py-spy must be installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.kernel.db import Database
from sanlun.kernel.events import EVENTS_KEY, Event, EventsContext, Subscriptions, publish_many
from sanlun.kernel.migrations import upgrade
from sanlun.kernel.settings import asyncpg_url
from sanlun.topology import BY_NAME
from services.employee_lifecycle.db import Base
from tests.support import create_database, drop_database, with_database
from tests.support_processes import ServiceProcess
from tests.support_servers import free_port

SUBSCRIPTIONS = {"opportunity": ["employee.*"]}
CHUNK = 500


def event(i: int, version: int = 1) -> Event:
    employee = uuid.uuid4()
    return Event(
        type="employee.updated",
        subject=str(employee),
        data={
            "id": str(employee),
            "name": f"Bench {i}",
            "email": f"b{i}@example.com",
            "org_unit_path": "/group/bench",
            "manager_id": None,
            "capacity": 10,
            "active": True,
            "version": version,
        },
    )


async def write(db: Database, events: list[Event]) -> None:
    async with db.transaction() as session:
        await publish_many(session, events)


async def wait_delivered(db: Database, since_id: int, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        async with db.transaction() as s:
            done = (
                await s.execute(
                    sa.text(
                        "SELECT count(*) FROM employee_lifecycle.outbox WHERE id > :since AND status = 'delivered'"
                    ),
                    {"since": since_id},
                )
            ).scalar_one()
        if done >= total:
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"only {done} of {total} delivered in {timeout}s")


async def figures(db: Database, since_id: int) -> tuple[float, float, float, int]:
    async with db.transaction() as s:
        row = (
            await s.execute(
                sa.text(
                    """SELECT count(*),
                      extract(epoch FROM max(delivered_at) - min(created_at)),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at)),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - created_at))
               FROM employee_lifecycle.outbox WHERE id > :since AND status = 'delivered'"""
                ),
                {"since": since_id},
            )
        ).one()
    return float(row[1]), float(row[2]) * 1000, float(row[3]) * 1000, int(row[0])


async def check_applied(db: Database, events: list[Event]) -> None:
    """Every event is in the consumer's inbox and its effect is in the view."""
    ids = [e.id for e in events]
    employees = [uuid.UUID(str(e.data["id"])) for e in events]
    async with db.transaction() as s:
        inbox = (
            await s.execute(sa.text("SELECT count(*) FROM opportunity.inbox WHERE event_id = ANY(:ids)"), {"ids": ids})
        ).scalar_one()
        applied = (
            await s.execute(
                sa.text(
                    "SELECT count(*) FROM opportunity.sales_people WHERE employee_id = ANY(:ids) "
                    "AND source_version = 1 AND name LIKE 'Bench %' AND org_unit_path = '/group/bench'"
                ),
                {"ids": employees},
            )
        ).scalar_one()
    if inbox != len(events) or applied != len(events):
        raise SystemExit(f"consumer: {inbox} of {len(events)} events in its inbox, {applied} applied")


async def max_id(db: Database) -> int:
    async with db.transaction() as s:
        return (await s.execute(sa.text("SELECT coalesce(max(id), 0) FROM employee_lifecycle.outbox"))).scalar_one()


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}


@dataclass
class CpuMeter:
    """CPU seconds spent by the two services and by their database backends
    since `start` (process CPU, not wall time: the machine is shared)."""

    processes: dict[str, psutil.Process]
    backends: dict[str, psutil.Process]
    before: dict[str, float]

    @classmethod
    async def start(cls, db: Database, processes: dict[str, psutil.Process]) -> CpuMeter:
        backends = await database_backends(db)
        return cls(processes, backends, cpu_seconds({**processes, **backends}))

    def used(self) -> dict[str, float]:
        used = {name: seconds - self.before[name] for name, seconds in cpu_seconds(self.processes).items()}
        with contextlib.suppress(psutil.Error):
            now = cpu_seconds(self.backends)
            used["postgres"] = sum(seconds - self.before[name] for name, seconds in now.items())
        return used


def per_event_cpu(used: dict[str, float], events: int) -> str:
    return ", ".join(f"{name} {seconds * 1e6 / events:.0f} us" for name, seconds in used.items())


async def database_backends(db: Database) -> dict[str, psutil.Process]:
    """The Postgres backends serving the two services (their pools are warm
    after the first round; a backend opened during a phase is not counted)."""
    async with db.transaction() as s:
        pids = (
            await s.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name IN ('employee_lifecycle', 'opportunity')"
                )
            )
        ).scalars()
        found = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                found[f"postgres {pid}"] = psutil.Process(pid)
        return found


@dataclass
class Round:
    burst_rate: float
    burst_p50: float
    burst_p99: float
    steady_p50: float
    steady_p99: float


async def one_round(
    db: Database, args: argparse.Namespace, processes: dict[str, psutil.Process], profile: Path | None
) -> Round:
    start_id = await max_id(db)
    batch = [event(i) for i in range(args.burst)]
    spies = []
    if profile is not None:
        for name, p in processes.items():
            out = profile / f"{name}.svg"
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "-p", str(p.pid), "-o", str(out), "-r", "200"]
            spies.append(subprocess.Popen(cmd))  # noqa: ASYNC220 - before the clock runs
    meter = await CpuMeter.start(db, processes)
    t0 = time.perf_counter()
    for i in range(0, len(batch), CHUNK):
        await write(db, batch[i : i + CHUNK])
    written = time.perf_counter() - t0
    await wait_delivered(db, start_id, args.burst, timeout=600)
    used = meter.used()
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    span, p50, p99, n = await figures(db, start_id)
    await check_applied(db, batch)
    per_event = per_event_cpu(used, n)
    print(
        f"burst:  {n} events delivered and applied in {span:.2f} s = {n / span:.0f} events/s "
        f"(written in {written:.2f} s; latency median {p50:.0f} ms, p99 {p99:.0f} ms, queueing behind the burst "
        f"included; CPU per event: {per_event})",
        flush=True,
    )
    burst = (n / span, p50, p99)

    start_id = await max_id(db)
    meter = await CpuMeter.start(db, processes)
    interval = 1.0 / args.rate
    steady = [event(i) for i in range(args.steady)]
    t0 = time.perf_counter()
    for i, e in enumerate(steady):
        await write(db, [e])
        delay = t0 + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await wait_delivered(db, start_id, args.steady, timeout=600)
    used = meter.used()
    _, p50, p99, n = await figures(db, start_id)
    await check_applied(db, steady)
    print(
        f"steady: {n} events at {args.rate:.0f}/s, all applied; delivery latency median {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (CPU per event: {per_event_cpu(used, n)})",
        flush=True,
    )
    return Round(*burst, p50, p99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--steady", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the steady phase")
    parser.add_argument("--rounds", type=int, default=1, help="repeat both phases; medians at the end")
    parser.add_argument("--profile", type=Path, help="directory for py-spy flame graphs of the first burst")
    args = parser.parse_args()

    admin = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sanlun_bench_{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    url = with_database(admin, name)
    processes: list[ServiceProcess] = []
    db = None
    try:
        for svc in ("employee_lifecycle", "opportunity"):
            await asyncio.to_thread(upgrade, BY_NAME[svc].migrations_dir, svc, url)
        opp_port, el_port = free_port(), free_port()
        env = {
            "SANLUN_OPPORTUNITY_URL": f"http://127.0.0.1:{opp_port}",
            "SANLUN_SUBSCRIPTIONS": '{"opportunity": ["employee.*"]}',
            "SANLUN_LOG_LEVEL": "WARNING",
        }
        log_dir = Path(tempfile.mkdtemp(prefix="sanlun-bench-"))
        for svc, port in (("opportunity", opp_port), ("employee_lifecycle", el_port)):
            processes.append(ServiceProcess(svc, port, database_url=url, log_dir=log_dir, env=env).start())
        ps = {p.name: psutil.Process(p.proc.pid) for p in processes if p.proc is not None}

        db = Database(asyncpg_url(url), application_name="bench")
        db.session_info[EVENTS_KEY] = EventsContext(
            source="employee_lifecycle",
            outbox=Base.metadata.tables["employee_lifecycle.outbox"],
            subscriptions=Subscriptions(SUBSCRIPTIONS),
            channel="sanlun_outbox_employee_lifecycle",
        )
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        rounds = [await one_round(db, args, ps, args.profile if i == 0 else None) for i in range(max(1, args.rounds))]
        if len(rounds) > 1:
            med = {f: statistics.median(getattr(r, f) for r in rounds) for f in Round.__dataclass_fields__}
            print(
                f"median of {len(rounds)}: burst {med['burst_rate']:.0f} events/s; steady at {args.rate:.0f}/s "
                f"median {med['steady_p50']:.1f} ms, p99 {med['steady_p99']:.1f} ms"
            )
    finally:
        for p in processes:
            p.stop()
        if db:
            await db.dispose()
        await drop_database(admin, name)


if __name__ == "__main__":
    asyncio.run(main())
