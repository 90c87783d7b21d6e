"""`sanlun demo`: the three wheels on real data in a minute.

Starts the system (`sanlun up`; the embedded PostgreSQL unless
SANLUN_DATABASE_URL is set), imports the sample set through the public API,
publishes a stage policy in the data's currency, evaluates every salesperson's
stage as of the last date in the data, runs one assignment round for the open
leads, and prints a short tour. The system keeps running for the curl commands
it prints, until Ctrl-C (or stops at once with --exit).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sanlun.importer.cli import importer_token, sample_data_dir
from sanlun.importer.client import ApiClient, ApiError
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import MappingError, load_mapping
from sanlun.importer.progress import Progress
from sanlun.topology import GATEWAY_PORT

ORG_UNIT = "/maven/maventech"
# Prospecting deals (never engaged) go to the assignment node instead of their agent.
ROUND_STAGE = "lead"
STAGES = ("L3_AFFLUENT", "L2_COMFORTABLE", "L1_SUBSISTENCE")
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
    names = {v: k.removeprefix("person:") for k, v in importer.ids["employees"].items()}
    agents = [p for p in plan.employees if "manager_external_id" in p.body]
    agent_ids = [importer.ids["employees"][p.key] for p in agents if p.key in importer.ids["employees"]]
    as_of = plan.data_end.isoformat() if plan.data_end else None

    c = report.counts()
    say("== 1. The sample set, imported through the public API")
    say(
        "   "
        + ", ".join(f"{e.replace('_', ' ')} {sum(c[e][s] for s in ('created', 'updated', 'unchanged'))}" for e in c)
        + f"; rejected rows {len(report.rejections)}"
    )
    acc = report.row_accounting()["opportunities"]
    say(
        f"   opportunities: {acc['read']} rows read = {acc['stored']} imported + {acc['rejected']} rejected; "
        f"{report.facts['inserted'] + report.facts['duplicates']} won/lost/open facts in the lifecycle back-fill"
    )
    grouped = collections.Counter()
    for n in report.notes():
        grouped[n.message] += n.count
    for message, count in grouped.most_common():
        say(f"   normalised {count:>5} x {message}")

    ensure_policy(api)
    evaluation = api.post(
        "/api/v1/employees/stages:evaluate",
        {"employee_ids": agent_ids, "as_of": as_of, "record": True},
        what="evaluate",
    )
    items = evaluation["items"]
    by_stage = collections.defaultdict(list)
    for item in items:
        by_stage[item["stage"]].append(item)
    say()
    say(f"== 2. Where each of the {len(items)} salespeople stands, as of {as_of} (policy {POLICY['name']!r})")
    for stage in STAGES:
        group = sorted(by_stage.get(stage, []), key=lambda i: -(i["signals"].get("wins_12m") or 0))
        say(f"   {stage:15} {len(group):>3}")
    for stage in STAGES:
        group = sorted(by_stage.get(stage, []), key=lambda i: -(i["signals"].get("wins_12m") or 0))
        if not group:
            continue
        example = group[len(group) // 2]
        s = example["signals"]
        say(
            f"   e.g. {names.get(example['employee_id'], example['employee_id'])} ({stage}): "
            f"{s.get('wins_12m') or 0:.0f} wins and {s.get('revenue_12m') or 0:,.0f} USD over 12 months, "
            f"{s.get('stable_accounts') or 0:.0f} stable accounts, {s.get('open_pipeline_count') or 0:.0f} open deals"
        )
        say(f"        why:   {example['reasons']['en']}")
        if example.get("gap"):
            say(f"        next:  {example['gap']['en']}")
        say(f"        needs: {', '.join(example['needs']) or '-'}")

    wait_for_people(api, len(plan.employees))
    proposal = api.post(
        "/api/v1/assignments/proposals", {"unassigned_in": ORG_UNIT, "pool": {"org_unit": ORG_UNIT}}, what="proposal"
    )
    summary = proposal["summary"]
    say()
    say(f"== 3. One assignment round: the {summary.get('deals', 0)} unassigned open leads (Prospecting, never engaged)")
    say(
        f"   proposed {summary.get('assigned', 0)} of {summary.get('deals', 0)} to {summary.get('reps', 0)} reps; "
        f"expected won value {summary.get('expected_won_value', 0):,.0f} USD; "
        f"starters {summary.get('starters', '-')}, "
        f"L1 protected share {summary.get('l1_starters_given', '-')} "
        f"of target {summary.get('l1_starter_target', '-')}; "
        f"stages {proposal['stages_source']}"
    )
    per_rep = collections.Counter(i["proposed_owner_id"] for i in proposal["items"])
    stage_of = {i["employee_id"]: i["stage"] for i in items}
    per_stage = collections.Counter()
    for rep, n in per_rep.items():
        per_stage[stage_of.get(rep, "?")] += n
    say("   deals per stage of the receiving rep: " + ", ".join(f"{s} {per_stage[s]}" for s in STAGES))
    for note in proposal.get("notes") or []:
        say(f"   note: {note}")
    shown = _examples(proposal["items"], stage_of)
    deal_names = (
        {o["id"]: o["name"] for o in api.get_all("/api/v1/opportunities", {"unassigned": "true"})} if shown else {}
    )
    for item in shown:
        owner = names.get(item["proposed_owner_id"], item["proposed_owner_id"])
        say(
            f"   {deal_names.get(item['opportunity_id'], item['opportunity_id'])} -> {owner} "
            f"({stage_of.get(item['proposed_owner_id'], '?')}, score {item['score']})"
        )
        for line in item["explanation"][:4]:
            say(f"        - {line}")
    if proposal["unassigned"]:
        reasons = collections.Counter(u["reason"] for u in proposal["unassigned"])
        say("   not placed: " + "; ".join(f"{n} x {r}" for r, n in reasons.items()))

    say()
    with_account = next((i for i in shown if deal_names.get(i["opportunity_id"], "").find("no account") < 0), None)
    target = with_account or (shown[0] if shown else None)
    if target:
        rec = api.call(
            "GET",
            f"/api/v1/opportunities/{target['opportunity_id']}/recommended-solutions",
            params={"as_of": as_of, "k": 3},
        )
        say(
            f"== 4. Solutions recommended for {deal_names.get(target['opportunity_id'])} "
            f"(wins {rec['window']['since']} .. {rec['window']['until']})"
        )
        for r in rec["items"]:
            e = r["evidence"]
            say(
                f"   {r['name']:<15} score {r['score']:.3f}: {e['wins_similar_accounts']} wins in similar accounts, "
                f"{e['wins_industry']} won / {e['losses_industry']} lost in the industry, win rate {e['win_rate']:.0%}"
            )
    say()
    say("== 5. Each salesperson's workspace (the third wheel), while the system runs:")
    people = {p.key: p for p in plan.employees}
    for p in agents:
        emp = importer.ids["employees"].get(p.key)
        if emp:
            say(f"   # {p.body['name']} ({stage_of.get(emp, '-')})")
            say(
                f'   curl -s -H "Authorization: Bearer $(sanlun token --employee {emp} '
                f'--org-unit {people[p.key].body["org_unit_path"]} --roles rep)" {gateway}/api/v1/me/workspace'
            )


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
            )
            importer.run()
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
