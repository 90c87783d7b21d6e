"""Sixty simulated days on the sample set, in real processes.

The sample is imported with its dates shifted so it ends the day before
START, every process's business clock (sanlun.kernel.clock) starts at START,
and then, day after day: a storm of ordinary sales work through the gateway
(new deals, wins, losses, reassignments, coverage edits, managers'
organisation-wide evaluations), the events delivered, and the scheduled
stage round. What must hold:

- nothing but the scheduled round changes a confirmed stage (read before
  every round: it equals yesterday's);
- every confirmed change rests on a sustained change: the round computed the
  new side on every day of the dwell (`confirm_after_days`) before it;
- a rep whose deals dry up (every open deal lost, no new win) moves down,
  exactly when the dwell after the first day the round computed it is over;
- a new rep who wins steadily at the same accounts across a quarter
  boundary moves up the same way.

START is fixed (not today) so the quarter boundary the up-move needs always
falls inside the 60 days; the suite owns its world.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sanlun.demo import ORG_UNIT, POLICY, ROUND_STAGE
from sanlun.importer.client import ApiClient
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import load_mapping
from sanlun.importer.progress import Silent
from sanlun.kernel.auth import mint_token
from sanlun.topology import SERVICES
from tests.e2e.system import PROCESSES, RunningSystem, free_base_port, sanlun_env, start_sanlun_up, stop, wait_until_up
from tests.importer.test_plan import MAVEN
from tests.support import TEST_SECRET

pytestmark = pytest.mark.e2e

START = dt.date(2027, 3, 12)  # the next quarter begins on day 20
DAYS = 60
RANK = {"L1_SUBSISTENCE": 1, "L2_COMFORTABLE": 2, "L3_AFFLUENT": 3}
WORDS = {"L1_SUBSISTENCE": "温饱 Subsistence", "L2_COMFORTABLE": "小康 Comfortable", "L3_AFFLUENT": "富裕 Affluent"}
ADMIN = {
    "Authorization": "Bearer "
    + mint_token(TEST_SECRET, subject="sim-admin", org_unit_path="/", roles=["group_admin", "ops"], ttl_seconds=7200)
}


@pytest.fixture(scope="module")
def system(fresh_database_url: str) -> Iterator[RunningSystem]:
    """Its own database, every clock adjustable, no automatic round: the test runs the days."""
    env = {
        **sanlun_env(fresh_database_url),
        "SANLUN_CLOCK_ADJUSTABLE": "true",
        "SANLUN_EMPLOYEE_LIFECYCLE_STAGE_SCHEDULE_SECONDS": "0",
        "SANLUN_GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
        "SANLUN_GATEWAY_RATE_LIMIT_BURST": "100000",
    }
    running = start_sanlun_up(None, free_base_port(21000), env=env)
    try:
        wait_until_up(running)
        yield running
    finally:
        stop(running)


class World:
    """The running system seen through its public API (and the operators' /ops routes)."""

    def __init__(self, system: RunningSystem) -> None:
        self.system = system
        self.gw = httpx.Client(base_url=system.url("gateway"), headers=ADMIN, timeout=60)
        self.lifecycle = httpx.Client(base_url=system.url("employee_lifecycle"), headers=ADMIN, timeout=60)
        # one kept-alive client per process for the operators' routes (clock, outbox)
        self.ops = {p: httpx.Client(base_url=system.url(p), headers=ADMIN, timeout=10) for p in PROCESSES}

    def close_all(self) -> None:
        for client in (self.gw, self.lifecycle, *self.ops.values()):
            client.close()

    def ok(self, response: httpx.Response) -> dict:
        assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json() if response.content else {}

    def set_day(self, day: dt.date) -> None:
        now = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC).isoformat()
        for process in PROCESSES:
            assert self.ok(self.ops[process].put("/ops/clock", json={"now": now}))["today"] == day.isoformat()

    def settle(self, timeout: float = 60) -> None:
        """Wait until every service's outbox is delivered: the day's facts are in before its round."""
        deadline = time.monotonic() + timeout
        for s in SERVICES:
            while True:
                summary = self.ok(self.ops[s.name].get("/ops/outbox/summary"))
                if summary["pending"] == 0:
                    assert summary["parked"] == 0, summary
                    break
                assert time.monotonic() < deadline, f"{s.name} outbox not drained: {summary}"
                time.sleep(0.05)

    def round(self) -> dict:
        return self.ok(self.lifecycle.post("/ops/stages/round"))

    def confirmed(self, ids: list[str]) -> dict[str, str]:
        body = self.ok(self.gw.post("/api/v1/employees/stages:batch-get", json={"employee_ids": ids}))
        return {i["employee_id"]: i["stage"] for i in body["items"]}

    def computed(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        """What the round of today computed, re-read as a preview (same data, same day)."""
        body = self.ok(self.gw.post("/api/v1/employees/stages:evaluate", json={"employee_ids": ids, "record": False}))
        return {i["employee_id"]: (i["computed_stage"], i["signals"]) for i in body["items"]}

    def open_deals(self, owner: str) -> list[dict]:
        out, cursor = [], None
        while True:
            params = {"owner_id": owner, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.ok(self.gw.get("/api/v1/opportunities", params=params))
            out += [o for o in page["items"] if o["stage"] not in ("won", "lost", "abandoned")]
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def new_deal(self, owner: str, account: str, solution: str, day: int) -> dict:
        return self.ok(
            self.gw.post(
                "/api/v1/opportunities",
                json={
                    "name": f"Day {day} deal {uuid.uuid4().hex[:6]}",
                    "org_unit_path": ORG_UNIT,
                    "owner_id": owner,
                    "account_id": account,
                    "stage": "lead",
                    "amount": {"amount": "12000.00", "currency": "USD"},
                    "solution_ids": [solution],
                },
            )
        )

    def close(self, deal: dict, stage: str, on: dt.date) -> None:
        body = {"stage": stage, "closed_on": on.isoformat()}
        if stage == "won":  # the TAS gates want a full plan; a manager vouches for the signed deal
            body |= {"force": True, "reason": "Signed (simulation)."}
        self.ok(self.gw.post(f"/api/v1/opportunities/{deal['id']}/stage", json=body))


@pytest.fixture
def world(system: RunningSystem) -> Iterator[World]:
    w = World(system)
    try:
        yield w
    finally:
        w.close_all()


def test_sixty_days_of_storms_hold_stages_still_and_follow_real_change(system: RunningSystem, world: World) -> None:
    world.set_day(START)
    token = ADMIN["Authorization"].removeprefix("Bearer ")
    with ApiClient(system.url("gateway"), token) as api:
        importer = Importer(
            mapping=load_mapping("maven-crm"),
            data_dir=MAVEN,
            client=api,
            progress=Silent(),
            target=system.url("gateway"),
            leave_unassigned=frozenset({ROUND_STAGE}),
            shift_dates_to=START,
        )
        report = importer.run()
        # MavenTech's own policy (USD, no quotas), once its organisation exists; the day-0 round is everyone's
        # first evaluation under it
        api.post("/api/v1/stage-policies", POLICY, what="policy")
        assert report.complete() and report.date_shift is not None
        assert report.date_shift.new_last == START - dt.timedelta(days=1)
        people = [p for p in api.get_all("/api/v1/employees", {"org_unit": ORG_UNIT}) if p["capacity"] > 0]
        accounts = [a["id"] for a in api.get_all("/api/v1/accounts", {"limit": 200})]
        solutions = [s["id"] for s in api.get_all("/api/v1/solutions", {"limit": 200})]
    ids = [p["id"] for p in people]
    names = {p["id"]: p["name"] for p in people}
    assert len(ids) >= 30 and len(accounts) >= 40

    began = time.monotonic()
    world.settle(timeout=600)  # the import's events (created, assigned) carry the open pipeline
    print(f"import events delivered {time.monotonic() - began:.1f} s after the import")
    assert world.round()["ran"]
    confirmed = {0: world.confirmed(ids)}
    computed = {0: world.computed(ids)}
    distribution = {0: collections.Counter(confirmed[0].values())}

    # the rep whose deals will dry up: an Affluent one whose win rate falls below the policy's 0.6
    # once all her open deals are lost (wins / (wins + losses + open) < 0.6)
    def dries_below(i: str) -> bool:
        s = computed[0][i][1]
        wins, rate, open_n = s["wins_12m"] or 0, s["win_rate_12m"] or 0, s["open_pipeline_count"] or 0
        losses = wins / rate - wins if rate else 0
        return wins / (wins + losses + open_n) < 0.55 if wins else False

    affluent = [i for i in ids if confirmed[0][i] == "L3_AFFLUENT" and dries_below(i)]
    assert affluent, "the sample has an Affluent rep with enough open deals to lose"
    down = max(affluent, key=lambda i: computed[0][i][1]["open_pipeline_count"] or 0)
    # the rep who will grow: a salesperson with no deal at all (Subsistence), winning at 12 accounts
    newcomers = [i for i in ids if confirmed[0][i] == "L1_SUBSISTENCE" and not world.open_deals(i)]
    assert newcomers
    up = newcomers[0]
    home_accounts = accounts[:12]
    down_open = world.open_deals(down)
    bystanders = [i for i in ids if i not in (up, down)]
    rng = random.Random(15)
    stormed = collections.Counter()

    for day in range(1, DAYS + 1):
        today = START + dt.timedelta(days=day)
        world.set_day(today)
        # -- the storm: ordinary work through the gateway -------------------------------
        for k in range(2):  # the newcomer wins twice a day at her twelve accounts
            deal = world.new_deal(up, home_accounts[(2 * day + k) % 12], solutions[k % len(solutions)], day)
            world.close(deal, "won", today)
        for deal in down_open[(day - 1) * 40 : day * 40]:  # the dry-up: every open deal lost within days
            world.close(deal, "lost", today)
        for rep in rng.sample(bystanders, 3):  # new leads, a reassignment, a win and a loss elsewhere
            world.new_deal(rep, rng.choice(accounts), rng.choice(solutions), day)
            stormed["created"] += 1
        open_elsewhere = world.open_deals(rng.choice(bystanders))
        if len(open_elsewhere) >= 3:
            a, b, c = rng.sample(open_elsewhere, 3)
            world.close(a, "won", today)
            world.close(b, "lost", today)
            world.ok(
                world.gw.post(
                    f"/api/v1/opportunities/{c['id']}/assignment",
                    json={
                        "employee_id": rng.choice([r for r in bystanders if r != c["owner_id"]]),
                        "reason": "Rebalancing (simulation).",
                    },
                )
            )
            stormed["closed"] += 2
            stormed["reassigned"] += 1
        added = world.gw.post(
            f"/api/v1/accounts/{rng.choice(accounts)}/coverage/members",
            json={"employee_id": rng.choice(bystanders), "org_unit_path": ORG_UNIT, "role": "overlay"},
        )
        assert added.status_code in (201, 409), added.text  # 409: already on that team
        # what a manager's "evaluate my organisation" does (the old daily round), on top of the events
        world.ok(world.gw.post("/api/v1/employees/stages:evaluate", json={"org_unit": ORG_UNIT, "record": True}))
        world.settle()
        # -- nothing of that confirmed anything -----------------------------------------
        assert world.confirmed(ids) == confirmed[day - 1], f"day {day}: a stage changed outside the round"
        # -- the scheduled round ----------------------------------------------------------
        result = world.round()
        assert result["ran"] and result["as_of"] == today.isoformat()
        if day in (1, 20, 40):  # a second round the same day counts nothing
            assert world.round()["counted"] == 0
        confirmed[day] = world.confirmed(ids)
        computed[day] = world.computed(ids)
        if day in (30, DAYS):
            distribution[day] = collections.Counter(confirmed[day].values())

    dwell = 14  # the policy's confirm_after_days (default)
    changes = []
    for i in ids:
        for day in range(1, DAYS + 1):
            before, after = confirmed[day - 1][i], confirmed[day][i]
            if before == after:
                continue
            changes.append((names[i], day, before, after))
            direction = RANK[after] - RANK[before]
            held = [d for d in range(day - dwell, day + 1) if d >= 0]
            assert len(held) == dwell + 1, f"{names[i]} changed on day {day}, before a dwell could pass"
            sides = {(RANK[computed[d][i][0]] - RANK[before]) * direction > 0 for d in held}
            assert sides == {True}, (
                f"{names[i]} moved {before} -> {after} on day {day} without a sustained change: "
                f"computed {[computed[d][i][0] for d in held]}"
            )

    def first(i: str, pred) -> int:  # type: ignore[no-untyped-def]
        return next(d for d in range(DAYS + 1) if pred(d))

    went_down = first(down, lambda d: RANK[computed[d][down][0]] < RANK["L3_AFFLUENT"])
    moved_down = first(down, lambda d: confirmed[d][down] != "L3_AFFLUENT")
    assert moved_down == went_down + dwell, (went_down, moved_down)
    assert RANK[confirmed[DAYS][down]] < RANK["L3_AFFLUENT"]
    went_up = first(up, lambda d: RANK[computed[d][up][0]] > RANK["L1_SUBSISTENCE"])
    moved_up = first(up, lambda d: confirmed[d][up] != "L1_SUBSISTENCE")
    assert moved_up == went_up + dwell, (went_up, moved_up)

    # what the README and the closing note quote
    lines = [f"stages over {DAYS} simulated days from {START} ({len(ids)} salespeople; storm {dict(stormed)}):"]
    for day, counts in distribution.items():
        words = ", ".join(f"{WORDS[s]} {counts.get(s, 0)}" for s in ("L3_AFFLUENT", "L2_COMFORTABLE", "L1_SUBSISTENCE"))
        lines.append(f"  day {day:>2}: {words}")
    lines.append(f"  {len(changes)} confirmed changes: {changes}")
    lines.append(f"  down: {names[down]} computed lower on day {went_down}, confirmed on day {moved_down}")
    lines.append(f"  up: {names[up]} computed higher on day {went_up}, confirmed on day {moved_up}")
    print("\n".join(lines))
    if os.environ.get("SANLUN_SIMULATION_REPORT"):
        Path(os.environ["SANLUN_SIMULATION_REPORT"]).write_text("\n".join(lines) + "\n")
