"""Benchmark: event delivery between two local services.

Starts the employee_lifecycle (publisher) and opportunity (consumer)
services as real uvicorn processes on a scratch database, writes events into
the publisher's outbox through `publish()` (as a request would), and reads
the figures from the outbox itself (`created_at` -> `delivered_at`):

1. burst: N events written at once; events delivered per second;
2. steady: events written at a fixed rate; median and p99 delivery latency.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/events_delivery.py [--burst 5000] [--rate 200] [--steady 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.kernel.db import Database
from sanlun.kernel.events import EVENTS_KEY, Event, EventsContext, Subscriptions, publish
from sanlun.kernel.migrations import upgrade
from sanlun.kernel.settings import asyncpg_url
from sanlun.topology import BY_NAME
from services.employee_lifecycle.db import Base
from tests.support import create_database, drop_database, with_database
from tests.support_processes import ServiceProcess
from tests.support_servers import free_port

SUBSCRIPTIONS = {"opportunity": ["employee.*"]}


def event(i: int) -> Event:
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
            "version": 1,
        },
    )


async def write(db: Database, events: list[Event]) -> None:
    async with db.transaction() as session:
        for e in events:
            await publish(session, e)


async def wait_delivered(db: Database, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.transaction() as s:
            done = (
                await s.execute(sa.text("SELECT count(*) FROM employee_lifecycle.outbox WHERE status = 'delivered'"))
            ).scalar_one()
        if done >= total:
            return
        await asyncio.sleep(0.2)
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


async def max_id(db: Database) -> int:
    async with db.transaction() as s:
        return (await s.execute(sa.text("SELECT coalesce(max(id), 0) FROM employee_lifecycle.outbox"))).scalar_one()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--steady", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the steady phase")
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

        db = Database(asyncpg_url(url), application_name="bench")
        db.session_info[EVENTS_KEY] = EventsContext(
            source="employee_lifecycle",
            outbox=Base.metadata.tables["employee_lifecycle.outbox"],
            subscriptions=Subscriptions(SUBSCRIPTIONS),
            channel="sanlun_outbox_employee_lifecycle",
        )

        start_id = await max_id(db)
        batch = [event(i) for i in range(args.burst)]
        for i in range(0, len(batch), 500):
            await write(db, batch[i : i + 500])
        await wait_delivered(db, args.burst, timeout=300)
        span, p50, p99, n = await figures(db, start_id)
        print(
            f"burst:  {n} events delivered in {span:.2f} s = {n / span:.0f} events/s "
            f"(latency median {p50:.0f} ms, p99 {p99:.0f} ms; includes queueing behind the burst)"
        )

        start_id = await max_id(db)
        interval = 1.0 / args.rate
        t0 = time.perf_counter()
        for i in range(args.steady):
            await write(db, [event(i)])
            delay = t0 + (i + 1) * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await wait_delivered(db, args.burst + args.steady, timeout=300)
        span, p50, p99, n = await figures(db, start_id)
        print(f"steady: {n} events at {args.rate:.0f}/s, delivery latency median {p50:.1f} ms, p99 {p99:.1f} ms")
    finally:
        for p in processes:
            p.stop()
        if db:
            await db.dispose()
        await drop_database(admin, name)


if __name__ == "__main__":
    asyncio.run(main())
