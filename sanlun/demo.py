"""`sanlun demo`: the three wheels on real data in a minute.

Starts the system (`sanlun up`; the embedded PostgreSQL unless
SANLUN_DATABASE_URL is set), publishes a stage policy in the data's currency,
imports the sample set through the public API with its dates shifted so the
data ends yesterday (`sanlun import --shift-dates-to today`), evaluates every
salesperson's stage today, shows the pipeline by month, runs one assignment
round for the open leads and recommends solutions, in words a sales manager
reads: every figure comes from the API's answers. The system keeps running for
the curl commands it prints, until Ctrl-C (or stops at once with --exit).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sanlun.importer.cli import importer_token, sample_data_dir
from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.dates import utc_today
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import MappingError, load_mapping
from sanlun.importer.progress import Progress
from sanlun.topology import GATEWAY_PORT

ORG_UNIT = "/maven/maventech"
# Prospecting deals (never engaged) go to the assignment node instead of their agent.
ROUND_STAGE = "lead"
STAGES = ("L3_AFFLUENT", "L2_COMFORTABLE", "L1_SUBSISTENCE")
# Opportunity stages that are not open pipeline.
CLOSED_STAGES = ("won", "lost", "abandoned")
# The shipped default counts revenue in CNY and expects quotas; the sample set is in
# USD without quotas, so the demo publishes MavenTech's own policy (volume and quality of won business).
POLICY = {
    "organization_path": ORG_UNIT,
    "name": "MavenTech: high-volume hardware (sanlun demo)",
    "currency": "USD",
    "hysteresis": 2,
    "rules": [
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


class DemoError(Exception):
    pass


# -- the system ------------------------------------------------------------------------------


class System:
    """`sanlun up` as a child process; its output goes to a log file, not the tour."""

    def __init__(self, base_port: int, log_path: Path) -> None:
        self.base_port, self.log_path = base_port, log_path
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 120) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sanlun.cli", "up", "--base-port", str(self.base_port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

        stdout = self.process.stdout
        if stdout is None:
            raise RuntimeError("sanlun up was started without a pipe for its output")

        def collect() -> None:
            for line in stdout:
                self.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()

        threading.Thread(target=collect, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith("Sanlun is up:") for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(self.lines[-25:])
        self.stop()
        raise DemoError(f"`sanlun up` did not start (full log in {self.log_path}):\n{tail}")

    def database(self) -> str:
        return next((line.removeprefix("Database: ") for line in self.lines if line.startswith("Database: ")), "?")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- words a sales manager reads ----------------------------------------------------------------

STAGE_WORDS = {
    "L1_SUBSISTENCE": "温饱 Subsistence",
    "L2_COMFORTABLE": "小康 Comfortable",
    "L3_AFFLUENT": "富裕 Affluent",
}


def stage_words(code: str | None) -> str:
    """温饱 / 小康 / 富裕 with the English name; an unknown code as it is, never a bare L3_AFFLUENT."""
    if code is None:
        return "no stage yet"
    return STAGE_WORDS.get(code, code)


def money(value: Any, currency: str | None = None) -> str:
    """`USD 1,234,567` from an API money object (`{"amount": "1234567.00", "currency": "USD"}`) or a number."""
    if isinstance(value, dict):
        currency, value = value.get("currency") or currency, value.get("amount")
    if value is None:
        return "-"
    amount = Decimal(str(value)).quantize(Decimal(1))
    return f"{currency} {amount:,}" if currency else f"{amount:,}"


def spread(per_person: dict[str, int]) -> tuple[int, int, float, int]:
    """How many people received deals, and the fewest, median and most deals one of them received."""
    counts = sorted(n for n in per_person.values() if n > 0)
    if not counts:
        return 0, 0, 0.0, 0
    return len(counts), counts[0], float(statistics.median(counts)), counts[-1]


def proposal_spread(proposal: dict[str, Any]) -> tuple[int, int, float, int]:
    """The proposal's own recipients and spread when it reports them, else counted from its decisions."""
    summary = proposal.get("summary") or {}
    reported = summary.get("per_person")
    recipients = summary.get("people_receiving")
    if isinstance(reported, dict) and isinstance(recipients, int) and {"min", "median", "max"} <= reported.keys():
        if not recipients:
            return 0, 0, 0.0, 0
        return recipients, int(reported["min"]), float(reported["median"]), int(reported["max"])
    return spread(collections.Counter(str(i["proposed_owner_id"]) for i in proposal.get("items") or []))


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}"


def _names(people: list[dict[str, Any]], limit: int = 8) -> str:
    shown = ", ".join(sorted(p["name"] for p in people)[:limit])
    return shown + (f" and {len(people) - limit} more" if len(people) > limit else "")


@dataclass
class Headcount:
    """Why the data set's employees are not all salespeople: computed from the API's people and deals."""

    employees: list[dict[str, Any]]
    salespeople: list[dict[str, Any]]
    no_capacity: list[dict[str, Any]]
    managers: list[dict[str, Any]]
    without_deals: list[dict[str, Any]]

    def text(self) -> list[str]:
        lines = [
            (
                f"{len(self.employees)} employees in the data set, {len(self.salespeople)} salespeople: "
                "only people with capacity for deals are salespeople (the assignment pool)."
            )
        ]
        if self.no_capacity:
            managers = [p for p in self.no_capacity if p in self.managers]
            others = [p for p in self.no_capacity if p not in self.managers]
            if managers:
                lines.append(
                    f"{len(managers)} are managers who lead a team and carry no deals (capacity 0): {_names(managers)}"
                )
            if others:
                lines.append(f"{len(others)} others have capacity 0: {_names(others)}")
        selling_managers = [p for p in self.managers if p not in self.no_capacity]
        if selling_managers:
            lines.append(f"{len(selling_managers)} managers also sell (capacity > 0): {_names(selling_managers)}")
        if self.without_deals:
            lines.append(
                f"{len(self.without_deals)} of the {len(self.salespeople)} salespeople own no deal in the data "
                f"(no history: they start at {stage_words('L1_SUBSISTENCE')}): {_names(self.without_deals)}"
            )
        return lines


def headcount(people: list[dict[str, Any]], deals_per_owner: dict[str, int]) -> Headcount:
    manager_ids = {p["manager_id"] for p in people if p.get("manager_id")}
    return Headcount(
        employees=people,
        salespeople=[p for p in people if p["capacity"] > 0],
        no_capacity=[p for p in people if p["capacity"] <= 0],
        managers=[p for p in people if p["id"] in manager_ids],
        without_deals=[p for p in people if p["capacity"] > 0 and not deals_per_owner.get(p["id"])],
    )


def recommendation_words(r: dict[str, Any], industry: str | None) -> str:
    e = r["evidence"]
    where = f"in {industry}" if industry else "in the industry"
    words = [
        f"{e['wins_similar_accounts']} wins in similar accounts (same industry and size)",
        f"{e['wins_industry']} won and {e['losses_industry']} lost {where}, a {e['win_rate']:.0%} win rate",
        f"{e['wins_overall']} wins overall",
    ]
    if e.get("last_win_month"):
        words.append(f"last won in {str(e['last_win_month'])[:7]}")
    if e.get("tag_match"):
        words.append("tagged for this kind of account" if e["tag_match"] >= 1 else "tagged for its industry or size")
    return f"{r['name']} (score {r['score']:.2f}): " + "; ".join(words)


# -- the tour --------------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def ensure_policy(api: ApiClient) -> None:
    current = api.call("GET", "/api/v1/stage-policies/effective", params={"org_unit": ORG_UNIT})
    if current.get("name") != POLICY["name"]:
        api.post("/api/v1/stage-policies", POLICY, what="policy")


def wait_for_people(api: ApiClient, expected: int, timeout: float = 60) -> None:
    """The assignment node learns people from `employee.*` events: wait until it knows them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        known = list(api.get_all("/api/v1/assignments/sales-people", {"org_unit": ORG_UNIT}))
        if len(known) >= expected and all(p.get("stage") for p in known if p.get("capacity")):
            return
        time.sleep(1)


def tour(api: ApiClient, importer: Importer, gateway: str) -> None:
    report = importer.report
    plan = importer.plan
    currency = importer.mapping.currency
    imported = set(importer.ids["employees"].values())
    people = [p for p in api.get_all("/api/v1/employees", {"org_unit": ORG_UNIT}) if p["id"] in imported]
    names = {p["id"]: p["name"] for p in people}
    deals = list(api.get_all("/api/v1/opportunities", {"org_unit": ORG_UNIT}))
    deal_names = {o["id"]: o["name"] for o in deals}
    deal_industry = {o["id"]: o.get("industry") for o in deals}
    per_owner = collections.Counter(o["owner_id"] for o in deals if o.get("owner_id"))
    staff = headcount(people, per_owner)
    salespeople = [p["id"] for p in staff.salespeople]
    shifted = report.date_shift
    # Live on shifted data: "today" is the services' today. Unshifted: as of the last date in the data.
    as_of = None if shifted is not None or plan.data_end is None else plan.data_end.isoformat()

    c = report.counts()
    say("== 1. The sample set, imported through the public API")
    say(
        "   "
        + ", ".join(f"{e.replace('_', ' ')} {sum(c[e][s] for s in ('created', 'updated', 'unchanged')):,}" for e in c)
        + f"; rejected rows {len(report.rejections):,}"
    )
    acc = report.row_accounting()["opportunities"]
    say(
        f"   opportunities: {acc['read']:,} rows read = {acc['stored']:,} imported + {acc['rejected']:,} rejected; "
        f"{report.facts['inserted'] + report.facts['duplicates']:,} won/lost/open facts in the lifecycle back-fill"
    )
    if shifted is not None:
        ends = "yesterday" if shifted.new_last == utc_today() - dt.timedelta(days=1) else str(shifted.new_last)
        say(
            f"   dates shifted by {shifted.days:,} days: {shifted.last} -> {shifted.new_last}, so the data "
            f"({shifted.first} .. {shifted.last}) now ends {ends} and the system runs live on it; "
            "every date kept its distance to the others"
        )
    grouped: collections.Counter[str] = collections.Counter()
    for n in report.notes():
        grouped[n.message] += n.count
    for message, count in grouped.most_common():
        say(f"   normalised {count:>5,} x {message}")

    say()
    say("== 2. Who sells")
    for line in staff.text():
        say(f"   {line}")

    evaluation = api.post(
        "/api/v1/employees/stages:evaluate",
        {"employee_ids": salespeople, "as_of": as_of, "record": True},
        what="evaluate",
    )
    items = evaluation["items"]
    when = items[0]["as_of"] if items else as_of
    by_stage: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for item in items:
        by_stage[item["stage"]].append(item)
    say()
    say(f"== 3. Where each of the {len(items)} salespeople stands today ({when}), by the last 12 months")
    say(f"   (policy {POLICY['name']!r})")
    for stage in STAGES:
        say(f"   {stage_words(stage):18} {len(by_stage.get(stage, [])):>3}")
    provisional = [i for i in items if i.get("provisional")]
    if provisional:
        moves = collections.Counter(
            f"{stage_words(i['stage'])} -> {stage_words(i['provisional']['stage'])}" for i in provisional
        )
        say(
            f"   {len(provisional)} provisional (confirmed once the new stage has held for the policy's dwell): "
            + ", ".join(f"{n} x {m}" for m, n in moves.most_common())
        )
    for stage in STAGES:
        group = sorted(by_stage.get(stage, []), key=lambda i: -(i["signals"].get("wins_12m") or 0))
        if not group:
            continue
        example = group[len(group) // 2]
        s = example["signals"]
        say(
            f"   e.g. {names.get(example['employee_id'], example['employee_id'])} ({stage_words(stage)}): "
            f"{s.get('wins_12m') or 0:.0f} wins worth {money(s.get('revenue_12m') or 0, currency)} in 12 months, "
            f"win rate {s.get('win_rate_12m') or 0:.0%}, {s.get('stable_accounts') or 0:.0f} stable accounts, "
            f"{s.get('open_pipeline_count') or 0:.0f} open deals"
        )
        say(f"        why:   {example['reasons']['en']}")
        if example.get("gap"):
            say(f"        next:  {example['gap']['en']}")
        if example["needs"]:
            say(f"        needs: {', '.join(n.replace('_', ' ') for n in example['needs'])}")

    pipeline(api, as_of, currency)

    wait_for_people(api, len(salespeople))
    proposal = api.post(
        "/api/v1/assignments/proposals", {"unassigned_in": ORG_UNIT, "pool": {"org_unit": ORG_UNIT}}, what="proposal"
    )
    summary = proposal["summary"]
    stage_of = {i["employee_id"]: i["stage"] for i in items}
    recipients, fewest, median, most = proposal_spread(proposal)
    pool = summary.get("reps", len(salespeople))
    say()
    say(
        f"== 5. One assignment round: the {summary.get('deals', 0):,} unassigned open leads "
        "(Prospecting, never engaged)"
    )
    room = f" (room for {summary['room']:,} new deals in the pool)" if summary.get("room") is not None else ""
    say(
        f"   proposed {summary.get('assigned', 0):,} of {summary.get('deals', 0):,}{room}; "
        f"{recipients} of the {pool} salespeople in the pool receive deals, "
        f"{fewest} to {most} each (median {_number(median)})"
    )
    if summary.get("excluded_no_capacity"):
        left_out = summary["excluded_no_capacity"]
        who = f": {_names(staff.no_capacity)}" if left_out == len(staff.no_capacity) else ""
        say(f"   left out of the pool: {left_out} people with capacity 0{who}")
    elif pool > len(salespeople):
        pooled = list(api.get_all("/api/v1/assignments/sales-people", {"org_unit": ORG_UNIT}))
        idle = [p for p in pooled if p["capacity"] <= 0 and p.get("active", True)]
        if idle:
            say(f"   the pool also counted {len(idle)} people with capacity 0, who can take no deal: {_names(idle)}")
    say(
        f"   expected won value {money(summary.get('expected_won_value', 0), currency)}; "
        f"starter deals {summary.get('starters', '-')}, of which {summary.get('l1_starters_given', '-')} "
        f"go to {stage_words('L1_SUBSISTENCE')} reps (protected share, target "
        f"{summary.get('l1_starter_target', '-')}); stages {proposal['stages_source']}"
    )
    per_rep = collections.Counter(i["proposed_owner_id"] for i in proposal["items"])
    per_stage: collections.Counter[str] = collections.Counter()
    for rep, received in per_rep.items():
        per_stage[stage_of.get(rep, "?")] += received
    say("   deals by the receiving rep's stage: " + ", ".join(f"{stage_words(s)} {per_stage[s]}" for s in STAGES))
    for note in proposal.get("notes") or []:
        say(f"   note: {note}")
    shown = _examples(proposal["items"], stage_of)
    for item in shown:
        owner = names.get(item["proposed_owner_id"], item["proposed_owner_id"])
        say(
            f"   {deal_names.get(item['opportunity_id'], item['opportunity_id'])} -> {owner} "
            f"({stage_words(stage_of.get(item['proposed_owner_id']))})"
        )
        for line in item["explanation"][:5]:
            say(f"        - {line}")
    if proposal["unassigned"]:
        reasons = collections.Counter(u["reason"] for u in proposal["unassigned"])
        say("   not placed: " + "; ".join(f"{n} x {r}" for r, n in reasons.items()))

    say()
    with_account = next((i for i in shown if deal_industry.get(i["opportunity_id"])), None)
    target = with_account or (shown[0] if shown else None)
    if target:
        params: dict[str, Any] = {"k": 3, **({"as_of": as_of} if as_of else {})}
        rec = api.call("GET", f"/api/v1/opportunities/{target['opportunity_id']}/recommended-solutions", params=params)
        say(
            f"== 6. Solutions recommended for {deal_names.get(target['opportunity_id'])}, "
            f"from the wins of {rec['window']['since']} .. {rec['window']['until']}"
        )
        for r in rec["items"]:
            say(f"   {recommendation_words(r, deal_industry.get(target['opportunity_id']))}")
    say()
    say("== 7. Each salesperson's workspace (the third wheel), while the system runs:")
    for p in sorted(staff.salespeople, key=lambda p: p["name"]):
        say(f"   # {p['name']} ({stage_words(stage_of.get(p['id']))})")
        say(
            f'   curl -s -H "Authorization: Bearer $(sanlun token --employee {p["id"]} '
            f'--org-unit {p["org_unit_path"]} --roles rep)" {gateway}/api/v1/me/workspace'
        )


def pipeline(api: ApiClient, as_of: str | None, currency: str) -> None:
    """The organisation's deals by close month: won and lost ones by the month they closed, open ones by the
    month they are expected to close."""
    params: dict[str, Any] = {"scope": "organization", "months_back": 12, "months": 3}
    if as_of:
        params["as_of"] = as_of
    answer = api.call("GET", "/api/v1/opportunities/pipeline", params=params)
    months = answer.get("by_close_month") or []
    say()
    say("== 4. The pipeline by close month (won and lost when they closed, open when expected to close)")
    if not months:
        say("   no deal closes or is expected to close in these months")
        return
    open_total = sum(b["count"] for b in answer.get("by_stage") or [] if b.get("stage") not in CLOSED_STAGES)
    open_dated = sum(b.get("open_count") or 0 for b in months)
    for b in months:
        parts = [f"{b['count']:>4} deals {money(b.get('amount'), currency):>16}"]
        if b.get("won_count") is not None:
            parts.append(
                f"won {b['won_count']:>3}, lost {b.get('lost_count') or 0:>3}, open {b.get('open_count') or 0:>3}"
            )
        parts.append(f"weighted {money(b.get('weighted_amount'), currency)}")
        say(f"   {str(b['month'])[:7]}  " + "; ".join(parts))
    if any(b.get("open_count") is not None for b in months) and open_total > open_dated:
        say(f"   {open_total - open_dated:,} open deals have no expected close date in these months: in no month above")


def _examples(items: list[dict[str, Any]], stage_of: dict[str, str]) -> list[dict[str, Any]]:
    """One placed deal per receiving stage, the highest scored."""
    best: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: -i["score"]):
        best.setdefault(stage_of.get(item["proposed_owner_id"], "?"), item)
    return [best[s] for s in STAGES if s in best]


# -- command -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="use a system that is already running at this gateway URL")
    parser.add_argument(
        "--base-port", type=int, default=GATEWAY_PORT, help=f"gateway port when starting (default {GATEWAY_PORT})"
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="sample set folder (default: the one shipped in the package)"
    )
    parser.add_argument(
        "--exit", action="store_true", help="stop the system after the tour instead of waiting for Ctrl-C"
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="start, import the sample set, and tour the three wheels on it")
    add_arguments(parser)
    parser.set_defaults(run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    system = None
    gateway = args.url
    try:
        if gateway is None:
            system = System(args.base_port, Path(os.environ.get("SANLUN_HOME", ".sanlun")) / "demo-up.log")
            say(f"Starting Sanlun (gateway on port {args.base_port}; logs in {system.log_path}) ...")
            system.start()
            gateway = f"http://127.0.0.1:{args.base_port}"
            say(f"Sanlun is up at {gateway}; database: {system.database()}")
        say()
        with ApiClient(gateway, importer_token()) as api:
            importer = Importer(
                mapping=load_mapping("maven-crm"),
                data_dir=args.data or sample_data_dir(),
                client=api,
                progress=Progress(),
                target=gateway,
                leave_unassigned=frozenset({ROUND_STAGE}),
                shift_dates_to=utc_today(),
            )
            importer.run()
            # The policy once its organisation exists (the import makes it). The import evaluates nobody
            # (deals arrive created, history as back-filled facts), so the tour's evaluation is everyone's
            # first under this policy, and a first evaluation sets the stage.
            ensure_policy(api)
            say()
            tour(api, importer, gateway)
        if system and not args.exit:
            say()
            say(f"API docs: {gateway}/docs. The system keeps running; press Ctrl-C to stop.")
            while system.process and system.process.poll() is None:
                time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except (DemoError, ApiError, MappingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if system:
            system.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanlun demo", description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    return cmd_demo(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
