"""Benchmark: evaluate 10,000 employees over 1,000,000 historical facts.

On a scratch database: 10,000 employees in 10 organisations x 10 teams and
1,000,000 facts (500,000 opportunities opened then won, lost or still open,
resource reuse; 2 years, 500 accounts, 20 solutions) bulk-loaded with INSERT ... SELECT generate_series. Then one
`POST /api/v1/employees/stages:evaluate {"org_unit": "/group", "record": true}`
through the service's HTTP API (in-process), which computes every signal in
set-based SQL, applies the rules and hysteresis, and writes states, history
and `employee.stage_changed` events. Run twice: the first evaluation sets
every stage (10,000 changes), the second changes none. Reports wall time,
peak Python heap (tracemalloc, in a separate run: it slows Python) and the
process's peak RSS.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/employee_lifecycle_bench.py [--employees 10000] [--facts 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from employee_lifecycle_common import scratch_service  # same folder

EMPLOYEES_SQL = """
INSERT INTO employee_lifecycle.employees (id, name, email, org_unit_path, capacity, active, entered_sales_on)
SELECT md5('e' || i)::uuid, 'Bench ' || i, 'bench' || i || '@example.com',
       '/group/org-' || (i % 10) || '/team-' || (i % 100), 20, true,
       date '2012-01-01' + (i % 2000)
FROM generate_series(1, $1) AS i
"""

# Facts come in pairs per opportunity (i / 2): engaged -> `opportunity_open`, then
# 30-120 days later won (60%) or lost (40%); one opportunity in ten is still
# open, and its second fact is a reuse of the owner's resource instead. Each
# employee sells to ~15 accounts of 500, so repeat business (stable accounts) occurs.
FACTS_SQL = """
INSERT INTO employee_lifecycle.facts (external_id, kind, employee_id, occurred_on, opportunity_ref, account_ref,
                                      amount, currency, solution_refs, cross_org)
SELECT 'f' || i,
       CASE WHEN i % 2 = 0 THEN 'opportunity_open'
            WHEN (i / 2) % 10 = 0 THEN 'resource_reused'
            WHEN (i / 2) % 5 < 3 THEN 'opportunity_won' ELSE 'opportunity_lost' END,
       md5('e' || (1 + (i / 2) % $2::bigint))::uuid,
       date '2016-01-01' + (((i / 2) * 7919 % 700) + CASE WHEN i % 2 = 1 THEN 30 + (i / 2) % 90 ELSE 0 END)::int,
       'o' || (i / 2),
       'acct-' || (((i / 2) % $2::bigint) * 7 + (i / 2) % 15) % 500,
       ((i * 131) % 100000) / 10.0, 'CNY',
       ARRAY['sol-' || ((i / 2) % 20)],
       i % 3 = 0
FROM generate_series(0::bigint, $1::bigint - 1) AS i
"""


async def load(url: str, employees: int, facts: int) -> float:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(EMPLOYEES_SQL, employees)
        await conn.execute(FACTS_SQL, facts, employees)
        await conn.execute("ANALYZE employee_lifecycle.employees; ANALYZE employee_lifecycle.facts")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def main(employees: int, facts: int) -> None:
    async with scratch_service("el_bench") as (client, admin, url):
        loaded = await load(url, employees, facts)
        print(
            f"loaded {employees:,} employees and {facts:,} facts in {loaded:.1f} s (INSERT ... SELECT generate_series)"
        )
        runs = (
            ("first (sets every stage)", False),
            ("second (no change)", False),
            ("third, under tracemalloc (slower; for the heap peak only)", True),
        )
        for run, traced in runs:
            if traced:
                tracemalloc.start()
            started = time.perf_counter()
            r = await client.post(
                "/api/v1/employees/stages:evaluate",
                json={"org_unit": "/group", "as_of": "2017-12-31", "record": True},
                headers=admin,
            )
            elapsed = time.perf_counter() - started
            assert r.status_code == 200, r.text
            body = r.json()
            line = f"{run}: evaluated {body['evaluated']:,}, changed {body['changed']:,} in {elapsed:.2f} s"
            if traced:
                line += f"; peak Python heap {tracemalloc.get_traced_memory()[1] / 2**20:.0f} MiB"
                tracemalloc.stop()
            print(line)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                "SELECT stage, count(*) FROM employee_lifecycle.employee_stages GROUP BY 1 ORDER BY 1"
            )
            events = await conn.fetchval(
                "SELECT count(DISTINCT event_id) FROM employee_lifecycle.outbox WHERE type = 'employee.stage_changed'"
            )
        finally:
            await conn.close()
        print(
            "stages: " + ", ".join(f"{r['stage']} {r['count']:,}" for r in rows) + f"; stage_changed events {events:,}"
        )
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--facts", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(main(args.employees, args.facts))
