"""Load the 85 maven-crm accounts through the key account service's bulk endpoint.

Parents come from `subsidiary_of`; revenue (USD millions) becomes money; the
segmentation inputs the data set can support are derived from its pipeline
(potential: the account's open + won pipeline value as a percentile; solution
fit: share of the 7 products it has bought). Prints the per-row report (every
warning and error), the tier distribution and a sample of reasons.

    SANLUN_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python benchmarks/key_account_maven_load.py [--url http://127.0.0.1:8003 --token ...]

Without --url it runs the service in-process on a scratch database (dropped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.importer.cli import sample_data_dir
from sanlun.kernel.auth import mint_token
from sanlun.kernel.migrations import upgrade
from tests.support import create_database, drop_database, with_database

DATA = sample_data_dir()
SECRET = "maven-load-secret-0123456789abcdef"
ORG_UNIT = "/group/maven"


def read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def rows() -> list[dict]:
    accounts = read("accounts.csv")
    pipeline_value: dict[str, float] = defaultdict(float)
    products_won: dict[str, set[str]] = defaultdict(set)
    for deal in read("sales_pipeline.csv"):
        account = deal["account"].strip()
        if not account:
            continue
        if deal["deal_stage"] == "Won":
            products_won[account].add(deal["product"].replace(" ", ""))
            pipeline_value[account] += float(deal["close_value"] or 0)
    ranked = sorted(pipeline_value, key=pipeline_value.get)  # type: ignore[arg-type]
    percentile = {a: round(100 * (i + 1) / len(ranked)) for i, a in enumerate(ranked)}
    out = []
    for a in accounts:
        name = a["account"].strip()
        row = {
            "external_id": f"maven:{name}",
            "name": name,
            "industry": a["sector"],
            "annual_revenue": {"amount": f"{float(a['revenue']) * 1_000_000:.2f}", "currency": "USD"},
            "employees": a["employees"],
            "headquarters": a["office_location"],
            "org_unit_path": ORG_UNIT,
            "potential": percentile.get(name, 0),
            "solution_fit": round(100 * len(products_won[name]) / 7),
        }
        if a["subsidiary_of"].strip():
            row["parent_external_id"] = f"maven:{a['subsidiary_of'].strip()}"
        out.append(row)
    return out


def print_report(report: dict, sent: list[dict]) -> None:
    print(
        f"rows sent: {len(sent)}  created: {report['created']}  updated: {report['updated']}  "
        f"failed: {report['failed']}  normalised: {sum(1 for r in report['results'] if r['warnings'])}"
    )
    for r in report["results"]:
        for w in r["warnings"]:
            print(f"  warning row {r['index']:>2} {r['external_id']}: {w['msg']}")
        for e in r["errors"]:
            print(f"  ERROR   row {r['index']:>2} {r['external_id']}: {'.'.join(map(str, e['loc']))}: {e['msg']}")
    ok = [r for r in report["results"] if r["status"] in ("created", "updated")]
    with_parent = sum(1 for r in ok if r["parent_id"])
    expected = sum(1 for s in sent if "parent_external_id" in s)
    print(f"parent links: {with_parent} of {expected} rows with subsidiary_of")
    tiers = Counter(r["tier"] for r in ok)
    print(
        "tier distribution: "
        + ", ".join(f"{t}={tiers.get(t, 0)}" for t in ("strategic", "key", "growth", "transactional"))
    )
    print("sample reasons (highest score first):")
    for r in (
        sorted(ok, key=lambda r: float(r["tier_score"] or 0), reverse=True)[:3]
        + sorted(ok, key=lambda r: float(r["tier_score"] or 0))[:1]
    ):
        parts = "; ".join(
            f"{x['factor']} {x['score'] if x['known'] else 'unknown'} x{x['weight']}" for x in r["tier_reasons"]
        )
        print(f"  {r['external_id']}: {r['tier']} {r['tier_score']} ({parts})")


async def post(client: httpx.AsyncClient, token: str, body: list[dict]) -> dict:
    response = await client.post(
        "/api/v1/accounts:bulk-upsert", json={"items": body}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    return response.json()


async def in_process(body: list[dict]) -> tuple[dict, dict]:
    from services.key_account.app import MIGRATIONS, create_app
    from services.key_account.settings import Settings

    admin = os.environ.get("SANLUN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sanlun_maven_{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    url = with_database(admin, name)
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS, "key_account", url)
        app = create_app(Settings(database_url=url, jwt_secret=SECRET, dispatcher_enabled=False, log_level="WARNING"))
        token = mint_token(SECRET, subject=str(uuid.uuid4()), org_unit_path="/group", roles=["group_admin"])
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://key_account") as client,
        ):
            first = await post(client, token, body)
            second = await post(client, token, body)  # a re-run updates, never duplicates
        return first, second
    finally:
        await drop_database(admin, name)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="a running key account service")
    parser.add_argument("--token", help="bearer token for --url (org/group admin)")
    args = parser.parse_args()
    body = rows()
    if args.url:
        async with httpx.AsyncClient(base_url=args.url, timeout=60) as client:
            first = await post(client, args.token, body)
            second = None
    else:
        first, second = await in_process(body)
    print_report(first, body)
    if second:
        print(f"re-run: created {second['created']}, updated {second['updated']}, failed {second['failed']}")


if __name__ == "__main__":
    asyncio.run(main())
