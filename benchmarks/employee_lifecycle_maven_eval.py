"""Evaluate the 35 maven-crm sales agents as of 2017-12-31 through the HTTP API.

Loads the sample set shipped in `sanlun/data/maven_crm/` into a scratch database through the public
API of the employee lifecycle service (in-process, ASGITransport): org units
(group -> MavenTech -> regional office -> manager's team), the 35 agents and
their 6 managers (bulk upsert by external id), and each opportunity's history
as back-filled facts (engaged -> open; closed -> won/lost). Then evaluates
every agent as of 2017-12-31, first with the shipped default policy (a
preview) and then with a MavenTech policy published for the organisation
(recorded), and prints the stage distribution with example reasons.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/employee_lifecycle_maven_eval.py
"""

from __future__ import annotations

import asyncio
import collections
import csv
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from employee_lifecycle_common import scratch_service  # same folder

from sanlun.importer.cli import sample_data_dir

DATA = sample_data_dir()
AS_OF = "2017-12-31"
ORG = "/maven/maventech"
# The pipeline file spells one product differently from products.csv.
PRODUCT_ALIASES = {"GTXPro": "GTX Pro"}

MAVENTECH_POLICY = {
    "organization_path": ORG,
    "name": "MavenTech: high-volume hardware",
    "currency": "USD",
    "hysteresis": 2,
    "rules": [
        # quota is not recorded in the data set, so the volume and quality of won business decides
        {
            "id": "l3_large_book_high_quality",
            "stage": "L3_AFFLUENT",
            "conditions": [
                {"signal": "revenue_12m", "op": ">=", "value": 400000},
                {"signal": "win_rate_12m", "op": ">=", "value": 0.6},
                {"signal": "stable_accounts", "op": ">=", "value": 25},
            ],
        },
        {
            "id": "l2_steady_book",
            "stage": "L2_COMFORTABLE",
            "conditions": [
                {"signal": "wins_12m", "op": ">=", "value": 50},
                {"signal": "stable_accounts", "op": ">=", "value": 12},
            ],
        },
    ],
}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


async def post(client, path: str, body: dict, headers: dict) -> dict:
    r = await client.post(path, json=body, headers=headers)
    if r.status_code >= 400:
        raise SystemExit(f"{path}: {r.status_code} {r.text}")
    return r.json()


async def main() -> None:
    teams, pipeline = read("sales_teams.csv"), read("sales_pipeline.csv")
    prices = {p["product"]: p["sales_price"] for p in read("products.csv")}
    notes = collections.Counter()
    async with scratch_service("maven_eval") as (client, admin, _):
        # -- organisation ----------------------------------------------------------------
        units = [
            {"external_id": "maven", "slug": "maven", "name": "Maven group"},
            {"external_id": "maventech", "slug": "maventech", "name": "MavenTech", "parent_external_id": "maven"},
        ]
        for region in sorted({t["regional_office"] for t in teams}):
            units.append(
                {
                    "external_id": f"region:{region}",
                    "slug": slug(region),
                    "name": region,
                    "parent_external_id": "maventech",
                }
            )
        for manager, region in sorted({(t["manager"], t["regional_office"]) for t in teams}):
            units.append(
                {
                    "external_id": f"team:{manager}",
                    "slug": slug(manager),
                    "name": f"{manager}'s team",
                    "parent_external_id": f"region:{region}",
                }
            )
        report = await post(client, "/api/v1/org-units:bulk-upsert", {"items": units}, admin)
        print(f"org units: {report['created']} created, {report['failed']} failed")

        # -- people ------------------------------------------------------------------------
        first_engaged: dict[str, str] = {}
        for o in pipeline:
            if o["engage_date"]:
                first_engaged[o["sales_agent"]] = min(first_engaged.get(o["sales_agent"], "9999"), o["engage_date"])
        people = []
        for manager, region in sorted({(t["manager"], t["regional_office"]) for t in teams}):
            people.append(
                {
                    "external_id": f"agent:{manager}",
                    "name": manager,
                    "email": f"{slug(manager)}@maventech.example",
                    "org_unit_path": f"{ORG}/{slug(region)}/{slug(manager)}",
                    "capacity": 0,
                }
            )
        for t in teams:
            # The data set has no hire dates: entry into sales is taken as the agent's first engagement.
            people.append(
                {
                    "external_id": f"agent:{t['sales_agent']}",
                    "name": t["sales_agent"],
                    "email": f"{slug(t['sales_agent'])}@maventech.example",
                    "org_unit_path": f"{ORG}/{slug(t['regional_office'])}/{slug(t['manager'])}",
                    "manager_external_id": f"agent:{t['manager']}",
                    "entered_sales_on": first_engaged.get(t["sales_agent"]),
                    "capacity": 60,
                }
            )
        report = await post(client, "/api/v1/employees:bulk-upsert", {"items": people}, admin)
        print(f"people: {report['created']} created, {report['failed']} failed")
        ids = {r["external_id"].removeprefix("agent:"): r["id"] for r in report["results"] if r["id"]}
        agents = [t["sales_agent"] for t in teams]

        # -- history as facts ----------------------------------------------------------------
        facts = []
        for o in pipeline:
            agent = ids.get(o["sales_agent"])
            if agent is None:
                notes["opportunity of an unknown agent (skipped)"] += 1
                continue
            product = PRODUCT_ALIASES.get(o["product"], o["product"])
            if product != o["product"]:
                notes[f"product {o['product']!r} read as {product!r}"] += 1
            account = o["account"] or None
            if account is None:
                notes["opportunity without an account (kept; counts for wins, not for stable accounts)"] += 1
            base = {
                "employee_id": agent,
                "opportunity_ref": o["opportunity_id"],
                "account_ref": account,
                "solution_refs": [product],
            }
            engaged = o["engage_date"] or AS_OF
            if not o["engage_date"]:
                notes["Prospecting without an engage date (counted open from 2017-12-31)"] += 1
            facts.append(
                {
                    **base,
                    "external_id": f"{o['opportunity_id']}:open",
                    "kind": "opportunity_open",
                    "occurred_on": engaged,
                    "amount": {"amount": f"{float(prices[product]):.2f}", "currency": "USD"},
                }
            )
            if o["deal_stage"] in ("Won", "Lost"):
                kind = "opportunity_won" if o["deal_stage"] == "Won" else "opportunity_lost"
                fact = {
                    **base,
                    "external_id": f"{o['opportunity_id']}:closed",
                    "kind": kind,
                    "occurred_on": o["close_date"],
                }
                if kind == "opportunity_won":
                    fact["amount"] = {"amount": f"{float(o['close_value'] or 0):.2f}", "currency": "USD"}
                facts.append(fact)
        inserted = 0
        for start in range(0, len(facts), 2000):
            inserted += (
                await post(client, "/api/v1/employees/facts:backfill", {"facts": facts[start : start + 2000]}, admin)
            )["inserted"]
        print(f"facts: {inserted} back-filled from {len(pipeline)} opportunities")
        for note, count in sorted(notes.items()):
            print(f"  data note: {count:5d} x {note}")

        agent_ids = [ids[a] for a in agents]
        # -- 1. the shipped default policy (preview, nothing stored) -------------------------
        default = await post(
            client,
            "/api/v1/employees/stages:evaluate",
            {"employee_ids": agent_ids, "as_of": AS_OF, "record": False},
            admin,
        )
        show("shipped default policy (preview)", default["items"], {v: k for k, v in ids.items()})

        # -- 2. MavenTech's own policy, recorded ----------------------------------------------
        policy = await post(client, "/api/v1/stage-policies", MAVENTECH_POLICY, admin)
        print(f"\npublished policy {policy['name']!r} version {policy['version']} for {policy['organization_path']}")
        recorded = await post(
            client,
            "/api/v1/employees/stages:evaluate",
            {"employee_ids": agent_ids, "as_of": AS_OF, "record": True},
            admin,
        )
        show("MavenTech policy (recorded)", recorded["items"], {v: k for k, v in ids.items()})
        batch = await post(client, "/api/v1/employees/stages:batch-get", {"employee_ids": agent_ids}, admin)
        print(
            f"\nbatch-get: {len(batch['items'])} items, not_found {len(batch['not_found'])}; open_load today "
            f"is {sum(i['open_load'] for i in batch['items'])} (history ends 2017)"
        )


def show(title: str, items: list[dict], names: dict[str, str]) -> None:
    print(f"\n== {title}: {len(items)} agents as of {AS_OF}")
    by_stage = collections.defaultdict(list)
    for item in items:
        by_stage[item["stage"]].append(item)
    for stage in ("L3_AFFLUENT", "L2_COMFORTABLE", "L1_SUBSISTENCE"):
        group = sorted(by_stage.get(stage, []), key=lambda i: names[i["employee_id"]])
        print(f"{stage:15s} {len(group):3d}  {', '.join(names[i['employee_id']] for i in group)}")
    needs = collections.Counter(n for i in items for n in i["needs"])
    print("needs: " + ", ".join(f"{n} {c}" for n, c in sorted(needs.items())))
    for stage in ("L3_AFFLUENT", "L2_COMFORTABLE", "L1_SUBSISTENCE"):
        ranked = sorted(by_stage.get(stage, []), key=lambda i: -(i["signals"]["wins_12m"] or 0))
        for item in ranked[:1] + ranked[-1:] if len(ranked) > 1 else ranked:
            s = item["signals"]
            rate = "n/a" if s["win_rate_12m"] is None else f"{s['win_rate_12m'] * 100:.0f}%"
            print(
                f"  {names[item['employee_id']]} -> {stage}: wins {s['wins_12m']:.0f}, win rate "
                f"{rate}, revenue {s['revenue_12m']:,.0f}, stable accounts "
                f"{s['stable_accounts']:.0f}, open {s['open_pipeline_count']:.0f}, tenure {s['tenure_months']}"
            )
            print(f"     reason: {item['reasons']['en']}")
            if item["gap"]:
                print(f"     gap:    {item['gap']['en']}  /  {item['gap']['zh']}")
            print(f"     needs:  {', '.join(item['needs']) or '-'}")


if __name__ == "__main__":
    asyncio.run(main())
