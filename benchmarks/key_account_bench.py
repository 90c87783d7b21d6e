"""Benchmark: relationship map and name-prefix search on 100,000 accounts.

Loads, with set-based SQL on a scratch database: 100,000 accounts, 1,000,000
contacts (10 per account, with a reporting line), 1,000,000 relationships
(one per contact, 2,000 employees), 200,000 influence lines and 300,000
coverage members. Then measures, through the service's HTTP API in-process
(ASGI, so FastAPI + validation + SQL, without a socket), the latency of
`GET /accounts/{id}/relationship-map` and `GET /accounts?name_prefix=`
for a group admin, a manager and a rep (visibility through coverage).

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/key_account_bench.py [--accounts 100000] [--requests 400] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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

ROOT = Path(__file__).resolve().parent.parent

SECRET = "bench-secret-0123456789abcdef0123"
EMPLOYEES = 2000

LOAD = [
    (
        "accounts",
        """
        INSERT INTO key_account.accounts (id, external_id, name, industry, employees, org_unit_path, owner_id,
                                          potential, tier, created_at, updated_at)
        SELECT md5('a' || i)::uuid, 'bench-' || i,
               initcap(substr(md5('n' || i), 1, 7)) || ' Group ' || i,
               (ARRAY['technology','retail','medical','finance','software'])[1 + i % 5],
               100 + i % 5000, '/group/bench/team-' || (i % 50), md5('e' || (i % {employees}))::uuid,
               i % 101, (ARRAY['strategic','key','growth','transactional'])[1 + i % 4],
               now() - make_interval(secs => i), now()
        FROM generate_series(1, {accounts}) AS i""",
    ),
    (
        "contacts",
        """
        INSERT INTO key_account.contacts (id, account_id, name, title, business_unit, reports_to_id, buying_role,
                                          political_status, created_at, updated_at)
        SELECT md5('c' || i || '-' || n)::uuid, md5('a' || i)::uuid, 'Contact ' || i || '-' || n,
               (ARRAY['CEO','CIO','CFO','Head of IT','Architect','Buyer','Engineer','Analyst','COO','CTO'])[n],
               (ARRAY['Board','IT','Finance','Operations'])[1 + n % 4],
               CASE WHEN n > 1 THEN md5('c' || i || '-1')::uuid END,
               (ARRAY['approver','decision_maker','evaluator','influencer','user'])[1 + n % 5],
               (ARRAY['outside','political_structure','inner_circle'])[1 + n % 3],
               now() - make_interval(secs => i * 10 + n), now()
        FROM generate_series(1, {accounts}) AS i, generate_series(1, 10) AS n""",
    ),
    (
        "relationships",
        """
        INSERT INTO key_account.relationships (id, account_id, contact_id, employee_id, level, strength,
                                               last_interaction_on)
        SELECT md5('r' || i || '-' || n)::uuid, md5('a' || i)::uuid, md5('c' || i || '-' || n)::uuid,
               md5('e' || ((i + n) % {employees}))::uuid,
               (ARRAY['vendor','credible_source','problem_solver','trusted_advisor'])[1 + (i + n) % 4],
               (i * 7 + n * 13) % 101, date '2026-01-01' + ((i + n) % 300)
        FROM generate_series(1, {accounts}) AS i, generate_series(1, 10) AS n""",
    ),
    (
        "influence_lines",
        """
        INSERT INTO key_account.influence_lines (id, account_id, from_contact_id, to_contact_id, strength)
        SELECT gen_random_uuid(), md5('a' || i)::uuid, md5('c' || i || '-' || n)::uuid,
               md5('c' || i || '-' || (n + 3))::uuid, 50
        FROM generate_series(1, {accounts}) AS i, generate_series(2, 3) AS n""",
    ),
    (
        "coverage_members",
        """
        INSERT INTO key_account.coverage_members (id, account_id, employee_id, org_unit_path, role, valid_from)
        SELECT gen_random_uuid(), md5('a' || i)::uuid, md5('e' || ((i * 3 + k) % {employees}))::uuid,
               '/group/bench/team-' || ((i + k) % 50),
               (ARRAY['account_owner','solution_consultant','delivery'])[k], date '2025-01-01'
        FROM generate_series(1, {accounts}) AS i, generate_series(1, 3) AS k""",
    ),
]


async def load(url: str, accounts: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        for table, sql in LOAD:
            started = time.perf_counter()
            await conn.execute(sql.format(accounts=accounts, employees=EMPLOYEES))
            print(
                f"  loaded {table:<17} {await conn.fetchval(f'SELECT count(*) FROM key_account.{table}'):>9,} rows "
                f"in {time.perf_counter() - started:5.1f} s"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def figures(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"  {name:<44} n={len(samples):>4}  median {statistics.median(samples):6.2f} ms  "
        f"p99 {p99:6.2f} ms  max {samples[-1]:6.2f} ms"
    )


async def timed(client: httpx.AsyncClient, url: str, params: dict | None, headers: dict, check) -> float:
    started = time.perf_counter()
    response = await client.get(url, params=params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    check(response.json())
    return elapsed


async def measure(url: str, accounts: int, requests: int) -> None:
    from services.key_account.app import create_app
    from services.key_account.settings import Settings

    app = create_app(Settings(database_url=url, jwt_secret=SECRET, dispatcher_enabled=False, log_level="WARNING"))
    admin = {
        "Authorization": "Bearer "
        + mint_token(SECRET, subject=str(uuid.uuid4()), org_unit_path="/group", roles=["group_admin"])
    }
    manager = {
        "Authorization": "Bearer "
        + mint_token(SECRET, subject=str(uuid.uuid4()), org_unit_path="/group/bench/team-7", roles=["manager"])
    }
    conn = await asyncpg.connect(url)
    # a rep who covers accounts: employee e0 is on ~450 teams
    rep_id = await conn.fetchval("SELECT md5('e0')::uuid")
    rep_accounts = [
        r[0]
        for r in await conn.fetch("SELECT account_id FROM key_account.coverage_members WHERE employee_id = $1", rep_id)
    ]
    await conn.close()
    rep = {
        "Authorization": "Bearer "
        + mint_token(SECRET, subject=str(rep_id), org_unit_path="/group/bench/team-0", roles=["rep"])
    }
    rng = random.Random(7)
    hexchars = "0123456789abcdef"

    def map_ok(body: dict) -> None:
        assert len(body["nodes"]) >= 11 and len(body["edges"]) >= 20, body

    def page_ok(body: dict) -> None:
        assert "items" in body

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://key_account") as client,
    ):
        for _ in range(30):  # warm-up: connections, caches, JIT-free but plan caches
            await timed(
                client,
                f"/api/v1/accounts/{uuid.UUID(hex=_md5(f'a{rng.randint(1, accounts)}'))}/relationship-map",
                None,
                admin,
                map_ok,
            )
        cases = {
            "relationship map, group admin": [
                (
                    f"/api/v1/accounts/{uuid.UUID(hex=_md5(f'a{rng.randint(1, accounts)}'))}/relationship-map",
                    None,
                    admin,
                    map_ok,
                )
                for _ in range(requests)
            ],
            "relationship map, rep on the coverage team": [
                (f"/api/v1/accounts/{rng.choice(rep_accounts)}/relationship-map", None, rep, map_ok)
                for _ in range(requests)
            ],
            "name prefix (2 chars), group admin, limit 50": [
                (
                    "/api/v1/accounts",
                    {"name_prefix": rng.choice(hexchars[10:]) + rng.choice(hexchars), "limit": 50},
                    admin,
                    page_ok,
                )
                for _ in range(requests)
            ],
            "name prefix (3 chars), group admin, limit 50": [
                (
                    "/api/v1/accounts",
                    {"name_prefix": "".join(rng.choice(hexchars) for _ in range(3)), "limit": 50},
                    admin,
                    page_ok,
                )
                for _ in range(requests)
            ],
            "name prefix (2 chars), manager of a team": [
                (
                    "/api/v1/accounts",
                    {"name_prefix": rng.choice(hexchars[10:]) + rng.choice(hexchars), "limit": 50},
                    manager,
                    page_ok,
                )
                for _ in range(requests)
            ],
            "name prefix (1 char), rep via coverage": [
                ("/api/v1/accounts", {"name_prefix": rng.choice(hexchars), "limit": 50}, rep, page_ok)
                for _ in range(requests)
            ],
        }
        for name, calls in cases.items():
            figures(name, [await timed(client, *call) for call in calls])


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse", metavar="DB", help="measure again on a database kept by --keep (migrated to head first)"
    )
    args = parser.parse_args()
    admin = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = args.reuse or f"sanlun_ka_bench_{uuid.uuid4().hex[:8]}"
    if not args.reuse:
        await create_database(admin, name)
    url = with_database(admin, name)
    try:
        await asyncio.to_thread(upgrade, ROOT / "services/key_account/migrations", "key_account", url)
        if not args.reuse:
            print(f"loading {args.accounts:,} accounts into {name}")
            await load(url, args.accounts)
        print("latency through the API (in-process ASGI, sequential requests):")
        await measure(url, args.accounts, args.requests)
    finally:
        if not (args.keep or args.reuse):
            await drop_database(admin, name)


if __name__ == "__main__":
    asyncio.run(main())
