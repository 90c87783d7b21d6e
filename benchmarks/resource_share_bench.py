"""Benchmark: introduction path queries on a group-sized relationship graph.

Builds a scratch database with the resource_share schema (its Alembic
migrations), bulk-loads with set-based SQL a group of 20 organisations,
10,000 employees and 1,000,000 shared relationships (200,000 contacts at
20,000 accounts; 85% shared at group scope, 5% with an expired consent), then
times the service's path query (`introductions.service.find_paths`: the one
subgraph statement plus the pure ranking) for random requesters and targets,
contact and account targets alike.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/resource_share_bench.py [--queries 1000] [--relationships 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.kernel.auth import Principal
from sanlun.kernel.db import Database
from sanlun.kernel.migrations import upgrade
from sanlun.kernel.settings import asyncpg_url
from sanlun.topology import BY_NAME
from services.resource_share.domain.paths import PathConfig
from services.resource_share.introductions import service as introductions
from tests.support import create_database, drop_database, with_database

ORGS, TEAMS_PER_ORG = 20, 25
# Deterministic ids (md5 of a label) so the load is pure SQL and the queries can name them.
LOAD = """
CREATE TEMP TABLE bench_employees AS
SELECT i, md5('employee' || i)::uuid AS id,
       '/group/org-' || (i % {orgs}) || '/team-' || ((i / {orgs}) % {teams}) AS path
FROM generate_series(0, {employees} - 1) AS i;

INSERT INTO resource_share.resources
  (id, type, title, summary, owner_id, org_unit_path, scope, industries, solutions, usage_count, rating_count,
   contact_id, account_id, strength, disclosure, shared, consent_given_on, consent_expires_on,
   created_at, updated_at, version)
SELECT md5('rel' || r.n)::uuid, 'relationship', 'Contact ' || r.c, '', e.id, e.path,
       CASE WHEN r.n % 20 < 17 THEN 'group' WHEN r.n % 20 < 19 THEN 'team' ELSE 'private' END,
       '{{}}', '{{}}', 0, 0,
       md5('contact' || r.c)::uuid, md5('account' || (r.c / 10))::uuid,
       10 + (r.n::bigint * 7919) % 91,
       (ARRAY['identity', 'identity', 'organization', 'anonymous'])[1 + r.n % 4],
       jsonb_build_object('title', 'Title ' || (r.c % 50)),
       current_date - 100,
       CASE WHEN r.n % 20 = 7 THEN current_date - 1 ELSE current_date + 365 END,
       now(), now(), 1
FROM (
  SELECT n, ((n::bigint * 104729 + (n / {employees})::bigint * 15485863) % {contacts})::int AS c,
         n % {employees} AS owner
  FROM generate_series(0, {relationships} - 1) AS n
) AS r
JOIN bench_employees e ON e.i = r.owner;
"""


async def load(url: str, *, employees: int, relationships: int, contacts: int) -> float:
    engine = create_async_engine(asyncpg_url(url))
    started = time.perf_counter()
    async with engine.begin() as conn:
        for statement in LOAD.format(
            orgs=ORGS, teams=TEAMS_PER_ORG, employees=employees, relationships=relationships, contacts=contacts
        ).split(";\n"):
            if statement.strip():
                await conn.execute(sa.text(statement))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE resource_share.resources"))
    await engine.dispose()
    return time.perf_counter() - started


def md5_uuid(label: str) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(label.encode()).hexdigest())


def employee(i: int) -> Principal:
    path = f"/group/org-{i % ORGS}/team-{(i // ORGS) % TEAMS_PER_ORG}"
    return Principal(subject=str(md5_uuid(f"employee{i}")), org_unit_path=path, roles=frozenset({"rep"}))


async def measure(url: str, *, queries: int, employees: int, contacts: int) -> None:
    db = Database(asyncpg_url(url), application_name="resource_share_bench", pool_size=2)
    rng = random.Random(7)
    config = PathConfig()
    timings: dict[str, list[float]] = {"contact": [], "account": []}
    found: dict[str, list[int]] = {"contact": [], "account": []}
    for q in range(queries + 20):
        principal = employee(rng.randrange(employees))
        kind = "contact" if q % 2 == 0 else "account"
        target = rng.randrange(contacts)
        args = (
            {"contact_id": md5_uuid(f"contact{target}"), "account_id": None}
            if kind == "contact"
            else {"contact_id": None, "account_id": md5_uuid(f"account{target // 10}")}
        )
        async with db.session() as session:
            started = time.perf_counter()
            paths = await introductions.find_paths(
                session=session, principal=principal, config=config, limit=10, **args
            )
            elapsed = (time.perf_counter() - started) * 1000
        if q >= 20:  # the first queries warm the pool and the caches
            timings[kind].append(elapsed)
            found[kind].append(len(paths))
    await db.dispose()
    print(f"{'target':<10}{'queries':>9}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}{'paths (median)':>16}")
    for kind, measured in [*timings.items(), ("all", timings["contact"] + timings["account"])]:
        values = sorted(measured)
        p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
        paths_found = found.get(kind) or found["contact"] + found["account"]
        print(
            f"{kind:<10}{len(values):>9}{statistics.median(values):>11.2f}{p99:>9.2f}{values[-1]:>9.2f}"
            f"{statistics.median(paths_found):>16}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--relationships", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    admin = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sanlun_bench_rs_{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    url = with_database(admin, name)
    try:
        spec = BY_NAME["resource_share"]
        await asyncio.to_thread(upgrade, spec.migrations_dir, spec.schema, url)
        seconds = await load(url, employees=args.employees, relationships=args.relationships, contacts=args.contacts)
        print(
            f"loaded {args.relationships:,} relationships of {args.employees:,} employees in {ORGS} organisations "
            f"({args.contacts:,} contacts, {args.contacts // 10:,} accounts) in {seconds:.1f} s"
        )
        await measure(url, queries=args.queries, employees=args.employees, contacts=args.contacts)
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            await drop_database(admin, name)


if __name__ == "__main__":
    asyncio.run(main())
