"""How fast `GET /api/v1/me/workspace` answers with every service up.

Starts the four services and the gateway (database `SANLUN_DATABASE_URL`,
migrated first), seeds one rep per stage through the public API (stages set
by a manager's override; L1: five new opportunities with a solution
catalogue and group resources; L2: a current account plan with due actions,
incubation items and a relationship target; L3: shared resources others have
asked for), then reads each rep's workspace `--requests` times with
`--concurrency` callers from a separate load process and prints the median
and p99 latency per stage, and whether every section arrived.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python benchmarks/gateway_workspace.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import urllib.error
import uuid

from gateway_common import call, cpu_seconds, ensure_org_unit, new_id, run_load, system, token

STAGES = ("L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="workspace reads per stage")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    database_url = os.environ.get("SANLUN_DATABASE_URL")
    if not database_url:
        print("Set SANLUN_DATABASE_URL to the PostgreSQL database to use.", file=sys.stderr)
        return 2
    # One token per stage reads far above the default 50/s limit: lift it, a 429 is no workspace.
    unlimited = {"SANLUN_GATEWAY_RATE_LIMIT_PER_SECOND": "100000", "SANLUN_GATEWAY_RATE_LIMIT_BURST": "100000"}
    with system(database_url, {"gateway": unlimited}) as procs:
        gw = procs.gateways["gateway"]
        reps = seed(gw)
        print(
            f"GET /api/v1/me/workspace: {args.requests} reads per stage, {args.concurrency} concurrent callers, "
            f"{os.cpu_count()} CPUs"
        )
        print(f"{'stage':16}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}  sections; CPU ms per workspace by process")
        for stage, auth in reps.items():
            sample = call("GET", gw + "/api/v1/me/workspace", auth)
            assert sample["stage"].get("stage") == stage, sample["stage"]
            sections = ", ".join(f"{name}={s['status']}({len(s['items'])})" for name, s in sample["sections"].items())
            item = {"method": "GET", "url": gw + "/api/v1/me/workspace", "headers": {"Authorization": auth}}
            run_load([item] * 50, args.concurrency)  # warm-up
            before = cpu_seconds(procs.pids)
            result = run_load([item] * args.requests, args.concurrency)
            after = cpu_seconds(procs.pids)
            cpu = "  ".join(f"{name}={(after[name] - before[name]) * 1000 / args.requests:.1f}" for name in procs.pids)
            bad = {s: c for s, c in result["statuses"].items() if s != "200"}
            print(
                f"{stage:16}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}"
                f"{result['requests'] / result['seconds']:>8.0f}  {sections}{'  non-200: ' + str(bad) if bad else ''}"
            )
            print(f"{'':42}CPU ms: {cpu}")
    return 0


def seed(gw: str) -> dict[str, str]:
    org = f"/group/ws{new_id()}"
    team = f"{org}/team-1"
    admin = token(str(uuid.uuid4()), "/group", ["group_admin"])
    manager = token(str(uuid.uuid4()), org, ["manager"])
    colleague = token(str(uuid.uuid4()), team, ["rep"])
    for _ in range(4):
        call("POST", gw + "/api/v1/solutions", admin, {"name": f"Bench solution {new_id()}", "industries": ["retail"]})
    for kind in ("reference_case", "expert"):
        for n in range(3):
            call(
                "POST",
                gw + "/api/v1/resources",
                colleague,
                {
                    "type": kind,
                    "title": f"Bench {kind} {n}",
                    "scope": "group",
                    "industries": ["retail"],
                },
            )
    ensure_org_unit(gw, admin, team)
    reps = {}
    for stage in STAGES:
        employee = call(
            "POST",
            gw + "/api/v1/employees",
            admin,
            {
                "name": f"Bench {stage}",
                "email": f"ws-{new_id()}@example.com",
                "org_unit_path": team,
            },
        )
        call("POST", gw + f"/api/v1/employees/{employee['id']}/stage:evaluate", manager, {})
        call(
            "PUT",
            gw + f"/api/v1/employees/{employee['id']}/stage/override",
            manager,
            {
                "stage": stage,
                "reason": "benchmark",
                "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            },
        )
        reps[stage] = token(employee["id"], team, ["rep"])
    l1 = reps["L1_SUBSISTENCE"]
    for n in range(5):
        call(
            "POST",
            gw + "/api/v1/opportunities",
            l1,
            {
                "name": f"New deal {n}",
                "industry": "retail",
                "amount": {"amount": "5000.00", "currency": "CNY"},
            },
        )
    l2 = reps["L2_COMFORTABLE"]
    today = dt.date.today()
    account = call("POST", gw + "/api/v1/accounts", l2, {"name": f"Bench key account {new_id()}", "industry": "retail"})
    plan = call(
        "POST",
        gw + "/api/v1/account-plans",
        l2,
        {
            "account_id": account["id"],
            "period": str(today.year),
            "starts_on": f"{today.year}-01-01",
            "ends_on": f"{today.year}-12-31",
        },
    )
    for n in range(3):
        call(
            "POST",
            gw + f"/api/v1/account-plans/{plan['id']}/actions",
            l2,
            {
                "title": f"Action {n}",
                "due_on": (today + dt.timedelta(days=n * 5)).isoformat(),
            },
        )
        call("POST", gw + f"/api/v1/account-plans/{plan['id']}/incubation-items", l2, {"title": f"Idea {n}"})
    contact = call("POST", gw + f"/api/v1/accounts/{account['id']}/contacts", l2, {"name": "Bench contact"})
    call(
        "PUT",
        gw + f"/api/v1/account-plans/{plan['id']}/relationship-targets",
        l2,
        {
            "contact_id": contact["id"],
            "target_level": "trusted_advisor",
        },
    )
    l3 = reps["L3_AFFLUENT"]
    for n in range(3):
        resource = call(
            "POST", gw + "/api/v1/resources", l3, {"type": "expert", "title": f"Expertise {n}", "scope": "group"}
        )
        try:
            call(
                "POST",
                gw + "/api/v1/resource-requests",
                colleague,
                {"resource_id": resource["id"], "message": "please"},
            )
        except urllib.error.HTTPError as exc:
            print(f"seeding a resource request failed: {exc.code} {exc.read()[:200]!r}", file=sys.stderr)
    return reps


if __name__ == "__main__":
    sys.exit(main())
