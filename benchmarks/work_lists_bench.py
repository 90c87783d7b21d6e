"""Benchmark: pages of the lists a salesperson and their managers open most,
on a large organisation, for three kinds of caller.

Loads, with set-based SQL on a scratch database: 5,000 accounts (50 teams)
with one plan each and 40 actions per plan (200,000 actions), and 200,000
opportunities over 500 owners. One rep owns just 3 accounts and 3 deals, the
case that needs the planner to start from the rep's records. Then measures,
through each service's HTTP API in-process (ASGI: FastAPI + validation +
SQL, no socket), the first page (50) of:

- `GET /api/v1/plan-actions?status=open` (earliest due first, undated last);
- `GET /api/v1/opportunities` (newest first) and `?sort=-assigned_at` for the rep;

as a group admin, a manager of the whole region, and that rep.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/work_lists_bench.py [--requests 300] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.kernel.auth import mint_token
from sanlun.kernel.migrations import upgrade
from tests.support import create_database, drop_database, with_database

SECRET = "bench-secret-0123456789abcdef0123"
REP = uuid.UUID("00000000-0000-0000-0000-00000000abcd")

LOAD = [
    (
        "key_account.accounts",
        """
        INSERT INTO key_account.accounts (id, name, org_unit_path, created_at, updated_at, version, employees,
                                          potential, strategic_value, solution_fit, owner_id)
        SELECT md5('a' || g)::uuid, 'Account ' || g, '/group/east/team-' || (g % 50), now(), now(), 1, 10, 50, 50, 50,
               CASE WHEN g <= 3 THEN '{rep}'::uuid ELSE md5('o' || (g % 500))::uuid END
        FROM generate_series(1, 5000) g""",
    ),
    (
        "key_account.account_plans",
        """
        INSERT INTO key_account.account_plans (id, account_id, period, starts_on, ends_on, created_at, updated_at,
                                               version, critical_success_factors, guiding_team_members,
                                               guiding_team_initiatives)
        SELECT md5('p' || id)::uuid, id, '2026', '2026-01-01', '2099-12-31', now(), now(), 1, '[]', '[]', '[]'
        FROM key_account.accounts""",
    ),
    (
        "key_account.plan_actions",
        """
        INSERT INTO key_account.plan_actions (id, plan_id, title, due_on, status, created_at, updated_at, version)
        SELECT gen_random_uuid(), p.id, 'Action ' || g,
               CASE WHEN g % 5 = 0 THEN NULL ELSE current_date + (g % 90) END, 'open', now(), now(), 1
        FROM key_account.account_plans p, generate_series(1, 40) g""",
    ),
    (
        "opportunity.opportunities",
        """
        INSERT INTO opportunity.opportunities (id, name, owner_id, org_unit_path, stage, created_at, updated_at,
                                               version, solution_ids, assigned_at)
        SELECT gen_random_uuid(), 'Deal ' || g,
               CASE WHEN g <= 3 THEN '{rep}'::uuid ELSE md5('o' || (g % 500))::uuid END,
               '/group/east/team-' || (g % 50), 'lead', now() - g * interval '1 minute', now(), 1, '{{}}',
               now() - g * interval '1 minute'
        FROM generate_series(1, 200000) g""",
    ),
]


async def load(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for table, sql in LOAD:
            started = time.perf_counter()
            await conn.execute(sql.format(rep=REP))
            print(
                f"  loaded {table:<28} {await conn.fetchval(f'SELECT count(*) FROM {table}'):>9,} rows "
                f"in {time.perf_counter() - started:5.1f} s"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def token(subject: str, org_unit: str, role: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(SECRET, subject=subject, org_unit_path=org_unit, roles=[role])}


async def measure(url: str, requests: int) -> None:
    from sanlun.topology import BY_NAME

    callers = {
        "group admin": token(str(uuid.uuid4()), "/group", "group_admin"),
        "manager of /group/east": token(str(uuid.uuid4()), "/group/east", "manager"),
        "rep with 3 accounts and 3 deals": token(str(REP), "/group/east/team-1", "rep"),
    }
    cases = [
        ("key_account", "/api/v1/plan-actions", {"status": "open"}, list(callers)),
        ("opportunity", "/api/v1/opportunities", {}, list(callers)),
        (
            "opportunity",
            "/api/v1/opportunities",
            {"owner_id": str(REP), "sort": "-assigned_at"},
            ["rep with 3 accounts and 3 deals"],
        ),
    ]
    for service, path, params, who in cases:
        module = __import__(f"{BY_NAME[service].package}.settings", fromlist=["Settings"])
        settings = module.Settings(
            database_url=url,
            jwt_secret=SECRET,
            dispatcher_enabled=False,
            log_level="WARNING",
            retention_interval_seconds=0,
        )
        app = BY_NAME[service].create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}") as client,
        ):
            for caller in who:
                headers = callers[caller]
                for _ in range(20):  # warm-up: connections, statement caches
                    assert (await client.get(path, params=params, headers=headers)).status_code == 200
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(path, params=params, headers=headers)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                samples.sort()
                label = f"GET {path}{'?' + '&'.join(f'{k}={v}' for k, v in params.items()) if params else ''}"
                print(
                    f"  {label:<58} {caller:<32} median {statistics.median(samples):6.2f} ms  "
                    f"p99 {samples[int(len(samples) * 0.99) - 1]:6.2f} ms  ({len(response.json()['items'])} items)"
                )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    admin_url = os.environ.get("SANLUN_DATABASE_URL")
    if not admin_url:
        sys.exit("Set SANLUN_DATABASE_URL to a PostgreSQL server the benchmark may create a scratch database on.")
    name = f"sanlun_bench_lists_{uuid.uuid4().hex[:8]}"
    await create_database(admin_url, name)
    url = with_database(admin_url, name)
    try:
        from sanlun.topology import BY_NAME

        for service in ("key_account", "opportunity"):
            await asyncio.to_thread(upgrade, BY_NAME[service].migrations_dir, BY_NAME[service].schema, url)
        await load(url)
        await measure(url, args.requests)
    finally:
        if args.keep:
            print(f"kept {name}")
        else:
            await drop_database(admin_url, name)


if __name__ == "__main__":
    asyncio.run(main())
