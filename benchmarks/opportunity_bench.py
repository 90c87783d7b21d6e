"""Assignment and recommendation benchmark for the opportunity service.

    python benchmarks/opportunity_bench.py [--deals 10000] [--reps 1000] [--history 1000000]

1. propose: score and solve an assignment of N unassigned deals over M reps
   (the same scoring and solver the `POST /api/v1/assignments/proposals`
   route runs; database reads and HTTP calls excluded), time and peak
   memory (tracemalloc, plus the process's peak RSS). Target: under 5 s.
2. recommend: `GET /api/v1/opportunities/{id}/recommended-solutions` through
   the real app (auth, visibility, SQL over the roll-up, ranking) with H
   historical opportunities in Postgres, median and p99 latency. Target:
   p99 under 50 ms. Needs SANLUN_DATABASE_URL (a server it may create a
   scratch database on); the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.opportunity.domain.policy import AssignmentPolicy
from services.opportunity.domain.scoring import L1, L2, L3, Deal, History, Rep, score
from services.opportunity.domain.solver import UNASSIGNED, solve

INDUSTRIES = [f"industry-{i}" for i in range(12)]
BANDS = ["small", "mid", "large"]


def bench_propose(n_deals: int, n_reps: int) -> None:
    rng = random.Random(42)
    solutions = [str(uuid.UUID(int=i + 1)) for i in range(40)]
    reps = [
        Rep(str(uuid.uuid4()), rng.choice([L1, L1, L2, L2, L3]), rng.randint(8, 20), rng.randint(0, 6))
        for _ in range(n_reps)
    ]
    history = History()
    for r in reps:
        n = rng.randint(0, 80)
        w = rng.randint(0, n)
        history.overall[r.employee_id] = (w, n)
        for ind in rng.sample(INDUSTRIES, 3):
            k = rng.randint(0, n // 3 + 1)
            history.industry[(r.employee_id, ind)] = (rng.randint(0, k), k)
        for s in rng.sample(solutions, 5):
            k = rng.randint(0, n // 5 + 1)
            history.solution[(r.employee_id, s)] = (rng.randint(0, k), k)
    deals = [
        Deal(
            str(uuid.uuid4()),
            rng.choice([None, rng.lognormvariate(10.5, 1.2)]),
            rng.choice(INDUSTRIES),
            rng.choice(BANDS),
            tuple(rng.sample(solutions, rng.randint(0, 2))),
            str(uuid.UUID(int=rng.randint(1, 3000))),
        )
        for _ in range(n_deals)
    ]
    coverage = {str(uuid.UUID(int=a)): {r.employee_id for r in rng.sample(reps, 2)} for a in range(1, 3001)}
    policy = AssignmentPolicy()
    tracemalloc.start()
    started = time.perf_counter()
    s = score(deals, reps, history, policy, coverage=coverage)
    scored = time.perf_counter()
    free = np.array([r.free for r in reps])
    sol = solve(
        s.utility,
        free,
        is_l1=np.array([r.stage == L1 for r in reps]),
        starter=s.starter,
        l1_share=policy.l1_starter_share,
        k=policy.candidates_per_opportunity,
    )
    solved = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    placed = sol.owner != UNASSIGNED
    counts = np.bincount(sol.owner[placed], minlength=len(reps))
    assert (counts <= free).all(), "capacity exceeded"
    print(f"\n## propose: {n_deals:,} deals over {n_reps:,} reps (free capacity {int(free.sum()):,})\n")
    print("| step | seconds |\n| --- | --- |")
    print(f"| score (win probability, continuity, load, stage rules) | {scored - started:.2f} |")
    print(f"| solve (L1 reservation + batch matching) | {solved - scored:.2f} |")
    print(f"| **total** | **{solved - started:.2f}** (target < 5) |")
    print(
        f"\nassigned {int(placed.sum()):,}; capacity respected; starters {sol.starters:,}, "
        f"L1 target {sol.l1_starter_target:,}, L1 given {sol.l1_starters_given:,}; "
        f"peak traced memory {peak / 2**20:,.0f} MiB; process peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )


SEED_SQL = """
INSERT INTO opportunity.opportunities
  (id, name, amount, currency, owner_id, org_unit_path, stage, industry, size_band, solution_ids, closed_on,
   expected_close_date, created_at, updated_at, version)
SELECT gen_random_uuid(), 'hist ' || g, (1000 + (g * 7919) % 90000)::numeric, 'CNY',
       ('00000000-0000-0000-0000-' || lpad(((g % 1000) + 1)::text, 12, '0'))::uuid,
       '/group/east/team-' || (g % 20),
       CASE WHEN g % 10 < 4 THEN 'won' WHEN g % 10 < 9 THEN 'lost' ELSE 'negotiation' END,
       'industry-' || (g % 12), (ARRAY['small','mid','large'])[1 + (g / 12) % 3],
       ARRAY[('00000000-0000-0000-0000-' || lpad((1 + (g * 31) % 40)::text, 12, '0'))::uuid],
       CASE WHEN g % 10 < 9 THEN DATE '2024-01-01' + (g % 1000)::int END,
       DATE '2024-01-01' + (g % 1000)::int, now(), now(), 1
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g
"""


async def bench_recommend(history: int, requests: int) -> None:
    import asyncpg
    import httpx
    import sqlalchemy as sa

    from sanlun.kernel.auth import mint_token
    from sanlun.kernel.migrations import upgrade
    from services.opportunity.app import MIGRATIONS, create_app
    from services.opportunity.recommendations.repository import rebuild
    from services.opportunity.settings import Settings

    admin = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
        "+asyncpg", ""
    )
    name = f"sanlun_bench_{uuid.uuid4().hex[:8]}"
    base = admin.rsplit("/", 1)[0]
    conn = await asyncpg.connect(base + "/postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = f"{base}/{name}"
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS, "opportunity", url)
        secret = "bench-secret-0123456789abcdef0123"
        settings = Settings(database_url=url, environment="test", jwt_secret=secret, dispatcher_enabled=False)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            db = app.state.db
            t0 = time.perf_counter()
            async with db.transaction() as session:
                await session.execute(
                    sa.text(
                        "INSERT INTO opportunity.solutions (id, name, industries, size_bands, presales_support_usual,"
                        " active, created_at, updated_at, version)"
                        " SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,"
                        " 'Solution ' || g, ARRAY['industry-' || (g % 12)], ARRAY['mid'], false, true, now(), now(), 1"
                        " FROM generate_series(1, 40) g"
                    )
                )
            step = 200_000
            for lo in range(1, history + 1, step):
                async with db.transaction() as session:
                    await session.execute(sa.text(SEED_SQL), {"lo": lo, "hi": min(history, lo + step - 1)})
            async with db.transaction() as session:
                await rebuild(session)
            async with db.engine.connect() as c:
                await c.execute(sa.text("COMMIT"))
                await c.execute(sa.text("VACUUM ANALYZE opportunity.opportunities"))
                await c.execute(sa.text("VACUUM ANALYZE opportunity.solution_outcomes"))
                rollup = (await c.execute(sa.text("SELECT count(*) FROM opportunity.solution_outcomes"))).scalar()
                targets = [
                    r[0]
                    for r in (
                        await c.execute(
                            sa.text("SELECT id FROM opportunity.opportunities WHERE stage = 'negotiation' LIMIT 200")
                        )
                    ).all()
                ]
            seeded = time.perf_counter() - t0
            token = mint_token(secret, subject=str(uuid.uuid4()), org_unit_path="/group", roles=["group_admin"])
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
                for opp in targets[:20]:  # warm-up
                    await client.get(f"/api/v1/opportunities/{opp}/recommended-solutions", headers=headers)
                times = []
                for i in range(requests):
                    opp = targets[i % len(targets)]
                    t = time.perf_counter()
                    r = await client.get(
                        f"/api/v1/opportunities/{opp}/recommended-solutions",
                        params={"as_of": "2026-09-30", "k": 3},
                        headers=headers,
                    )
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200 and len(r.json()["items"]) == 3, r.text
        times.sort()
        p99 = times[int(0.99 * (len(times) - 1))]
        print(
            f"\n## recommend: {history:,} historical opportunities "
            f"({rollup:,} roll-up rows; seeded in {seeded:.0f} s)\n"
        )
        print("| requests | median ms | p99 ms | max ms |\n| --- | --- | --- | --- |")
        print(f"| {requests} | {statistics.median(times):.1f} | {p99:.1f} (target < 50) | {times[-1]:.1f} |")
    finally:
        conn = await asyncpg.connect(base + "/postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--skip-recommend", action="store_true")
    args = parser.parse_args()
    bench_propose(args.deals, args.reps)
    if not args.skip_recommend:
        asyncio.run(bench_recommend(args.history, args.requests))


if __name__ == "__main__":
    main()
