"""What the gateway costs on a realistic, database-backed mix.

Starts the four services and three gateways as real uvicorn processes (the
database is `SANLUN_DATABASE_URL`; every schema is migrated first), seeds
16 reps with opportunities, an account and a resource each through the
services' APIs, then replays the same mix of requests from a separate load
process, directly to the owning services and through each gateway:

    35% GET  /api/v1/opportunities/{id}          15% GET /api/v1/accounts/{id}
    20% GET  /api/v1/opportunities?owner_id=me   10% GET /api/v1/resources?limit=20
    10% GET  /api/v1/employees/{id}              10% POST /api/v1/opportunities

Gateways: `gateway` (the shipped settings: leased tokens, rate limit on),
`gateway-1-update` (one shared-bucket UPDATE per request: lease size 1) and
`gateway-no-limit` (rate limiting off), so the limiter's own cost shows.
Reports throughput, median and p99 latency, and CPU seconds per request of
each process. Rounds alternate the order; medians are printed.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python benchmarks/gateway_load.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid

from gateway_common import call, cpu_seconds, ensure_org_unit, new_id, run_load, system, token

REPS = 16
GATEWAYS = {
    "gateway": {},
    "gateway-1-update": {"SANLUN_GATEWAY_RATE_LIMIT_LEASE_MAX": "1"},
    "gateway-no-limit": {"SANLUN_GATEWAY_RATE_LIMIT_ENABLED": "false"},
}
SERVICE_OF = {
    "/api/v1/opportunities": "opportunity",
    "/api/v1/accounts": "key_account",
    "/api/v1/resources": "resource_share",
    "/api/v1/employees": "employee_lifecycle",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="requests per measured run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    database_url = os.environ.get("SANLUN_DATABASE_URL")
    if not database_url:
        print("Set SANLUN_DATABASE_URL to the PostgreSQL database to use.", file=sys.stderr)
        return 2
    with system(database_url, GATEWAYS) as procs:
        reps = seed(procs.services)
        targets = {"direct": None, **procs.gateways}
        warm = min(600, args.requests)
        for base in targets.values():
            run_load(plan(reps, procs.services, base, warm), args.concurrency)
        results: dict[str, list[dict]] = {name: [] for name in targets}
        names = list(targets)
        for i in range(args.rounds):
            for name in names if i % 2 == 0 else reversed(names):
                before = cpu_seconds(procs.pids)
                result = run_load(plan(reps, procs.services, targets[name], args.requests), args.concurrency)
                after = cpu_seconds(procs.pids)
                result["cpu_ms"] = {p: (after[p] - before[p]) / result["requests"] * 1000 for p in procs.pids}
                results[name].append(result)
        report(results, args, list(procs.services))
    return 0


def seed(services: dict[str, str]) -> list[dict]:
    admin = token(str(uuid.uuid4()), "/group", ["group_admin"])
    reps = []
    for i in range(REPS):
        team = f"/group/bench-{i % 4}"
        ensure_org_unit(services["employee_lifecycle"], admin, team)
        employee = call(
            "POST",
            services["employee_lifecycle"] + "/api/v1/employees",
            admin,
            {
                "name": f"Bench rep {i}",
                "email": f"bench-{new_id()}@example.com",
                "org_unit_path": team,
            },
        )
        auth = token(employee["id"], team, ["rep"])
        opportunities = [
            call(
                "POST",
                services["opportunity"] + "/api/v1/opportunities",
                auth,
                {
                    "name": f"Bench deal {i}-{n}",
                    "amount": {"amount": f"{1000 + n}.00", "currency": "CNY"},
                    "industry": "retail",
                },
            )["id"]
            for n in range(5)
        ]
        account = call(
            "POST", services["key_account"] + "/api/v1/accounts", auth, {"name": f"Bench account {new_id()}"}
        )["id"]
        call(
            "POST",
            services["resource_share"] + "/api/v1/resources",
            auth,
            {"type": "reference_case", "title": f"Bench case {i}"},
        )
        reps.append({"id": employee["id"], "auth": auth, "opportunities": opportunities, "account": account})
    return reps


def plan(reps: list[dict], services: dict[str, str], gateway: str | None, n: int) -> list[dict]:
    weighted = ["opp"] * 7 + ["list"] * 4 + ["employee"] * 2 + ["account"] * 3 + ["resources"] * 2 + ["create"] * 2
    out = []
    for i in range(n):
        rep = reps[i % len(reps)]
        kind = weighted[(i * 7) % len(weighted)]
        body = None
        method = "GET"
        if kind == "opp":
            path = f"/api/v1/opportunities/{rep['opportunities'][i % 5]}"
        elif kind == "list":
            path = f"/api/v1/opportunities?owner_id={rep['id']}&limit=20"
        elif kind == "employee":
            path = f"/api/v1/employees/{rep['id']}"
        elif kind == "account":
            path = f"/api/v1/accounts/{rep['account']}"
        elif kind == "resources":
            path = "/api/v1/resources?limit=20"
        else:
            method, path = "POST", "/api/v1/opportunities"
            body = {"name": f"Load deal {i}", "amount": {"amount": "12.50", "currency": "CNY"}}
        prefix = "/".join(path.split("?")[0].split("/")[:4])
        base = gateway or services[SERVICE_OF[prefix]]
        out.append({"method": method, "url": base + path, "headers": {"Authorization": rep["auth"]}, "body": body})
    return out


def report(results: dict[str, list[dict]], args: argparse.Namespace, services: list[str]) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    def cpu(name: str, process: str) -> float:
        return statistics.median(r["cpu_ms"][process] for r in results[name])

    rps = {name: statistics.median(r["requests"] / r["seconds"] for r in runs) for name, runs in results.items()}
    print(
        f"Mix of {args.requests} requests x {args.rounds} rounds, {args.concurrency} connections, "
        f"{REPS} reps, load from a separate aiohttp process, {os.cpu_count()} CPUs (medians)"
    )
    header = f"{'target':18}{'req/s':>8}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'gw CPU ms/req':>14}"
    header += "".join(f"{s[:12] + ' ms':>16}" for s in services)
    print(header)
    for name in results:
        bad = sum(c for r in results[name] for s, c in r["statuses"].items() if not str(s).startswith("2"))
        gw = cpu(name, name) if name != "direct" else 0.0
        line = f"{name:18}{rps[name]:>8.0f}{rps[name] / rps['direct']:>7.2f}"
        line += f"{med(name, 'p50_ms'):>8.2f}{med(name, 'p99_ms'):>8.2f}"
        line += f"{bad:>8}{gw:>14.3f}" + "".join(f"{cpu(name, s):>16.3f}" for s in services)
        print(line)
    for name in results:
        if name != "direct":
            print(
                f"{name}: +{med(name, 'p50_ms') - med('direct', 'p50_ms'):.2f} ms at the median, "
                f"{cpu(name, name):.3f} ms ({cpu(name, name) / 1000:.6f} s) of gateway CPU per request, "
                f"{rps[name] / rps['direct']:.0%} of direct throughput"
            )


if __name__ == "__main__":
    sys.exit(main())
