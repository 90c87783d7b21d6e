"""Simulation: a month of support requests through the MCI desk, tilting on and off.

A mixed-stage team (40% L1, 40% L2, 20% L3) files pre-sales requests through
30 days of working hours; a pool of support people with skills, industries
and weekly capacity (a fifth of it each working day) serves them. Every hour the desk ranks the open requests
with the service's own rule (`domain.desk.priority`: urgency × deal value ×
stage weight + ageing) and gives each, best first, to the best match with free
hours (`domain.desk.match`). A request still open at its due date is lost.
Demand is set a little above capacity so the ordering matters. The same random
month runs with the tilt on (L1 × 2) and off; figures per stage at request time.

    python benchmarks/resource_share_support_sim.py [--seed 7] [--load 1.15] [--ageing 0.25]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.resource_share.domain.desk import (
    Candidate,
    PriorityConfig,
    fairness,
    match,
    priority,
)

START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)  # a Monday
DAYS, WORK_HOURS = 30, range(9, 18)
SKILLS = ("storage", "networking", "security", "cloud", "analytics")
INDUSTRIES = ("retail", "energy", "finance", "health")
STAGE_MIX = (("L1_SUBSISTENCE", 0.4), ("L2_COMFORTABLE", 0.4), ("L3_AFFLUENT", 0.2))
URGENCY_MIX = (("low", 0.2), ("normal", 0.45), ("high", 0.25), ("critical", 0.1))


@dataclass
class Req:
    id: uuid.UUID
    stage: str
    urgency: str
    amount: float
    skills: tuple[str, ...]
    industry: str
    hours: float
    created: dt.datetime
    due: dt.datetime
    assigned: dt.datetime | None = None


def pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in mix], weights=[w for _, w in mix])[0]


def month(seed: int, load: float, pool: list[tuple[uuid.UUID, frozenset[str], frozenset[str], float]]) -> list[Req]:
    rng = random.Random(seed)
    weekly_capacity = sum(p[3] for p in pool)
    # Requests per working hour so the hours asked are `load` × the pool's hours.
    mean_hours = 2.5
    per_hour = load * weekly_capacity / (5 * len(WORK_HOURS)) / mean_hours
    out = []
    for day in range(DAYS):
        date = START + dt.timedelta(days=day)
        if date.weekday() >= 5:
            continue
        for hour in WORK_HOURS:
            for _ in range(_poisson(rng, per_hour)):
                created = date.replace(hour=hour, minute=rng.randrange(60))
                # Deal sizes by stage: L1 small, L3 large (what the tilt has to counter).
                stage = pick(rng, STAGE_MIX)
                scale = {"L1_SUBSISTENCE": 30_000, "L2_COMFORTABLE": 120_000, "L3_AFFLUENT": 400_000}[stage]
                out.append(
                    Req(
                        id=uuid.UUID(int=rng.getrandbits(128)),
                        stage=stage,
                        urgency=pick(rng, URGENCY_MIX),
                        amount=rng.lognormvariate(0, 0.6) * scale,
                        skills=tuple(rng.sample(SKILLS, rng.choice((1, 1, 2)))),
                        industry=rng.choice(INDUSTRIES),
                        hours=rng.choice((1, 2, 3, 4)),
                        created=created,
                        due=created + dt.timedelta(days=rng.choice((3, 5, 7))),
                    )
                )
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, 2.718281828459045**-lam
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def run(requests: list[Req], pool, config: PriorityConfig) -> list[Req]:
    requests = [Req(**{**r.__dict__, "assigned": None}) for r in requests]
    pending = sorted(requests, key=lambda r: r.created)
    open_: list[Req] = []
    free = {p[0]: 0.0 for p in pool}
    now = START
    end = START + dt.timedelta(days=DAYS)
    while now < end:
        if now.weekday() < 5 and now.hour == WORK_HOURS[0]:
            # Each working day brings a fifth of the weekly hours; unused hours do not carry over.
            free = {p[0]: p[3] / 5 for p in pool}
        while pending and pending[0].created <= now:
            open_.append(pending.pop(0))
        open_ = [r for r in open_ if r.due > now]  # past due: lost
        if now.weekday() < 5 and now.hour in WORK_HOURS and open_:
            ranked = sorted(
                open_,
                key=lambda r: (
                    -priority(
                        urgency=r.urgency,
                        deal_amount=r.amount,
                        stage=r.stage,
                        created_at=r.created,
                        now=now,
                        config=config,
                    ).score
                ),
            )
            for r in ranked:
                best = match(
                    skills=r.skills,
                    industry=r.industry,
                    hours_needed=r.hours,
                    candidates=[Candidate(p[0], p[1], p[2], free[p[0]]) for p in pool],
                )
                if best:
                    free[best[0].employee_id] -= r.hours
                    r.assigned = now
                    open_.remove(r)
        now += dt.timedelta(hours=1)
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--load", type=float, default=1.15, help="hours asked / hours the pool has")
    parser.add_argument("--ageing", type=float, default=0.25, help="priority points per hour waited")
    parser.add_argument("--people", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(args.seed + 1)
    pool = [
        (
            uuid.UUID(int=rng.getrandbits(128)),
            frozenset(rng.sample(SKILLS, 3)),
            frozenset(rng.sample(INDUSTRIES, 2)),
            float(rng.choice((20, 30, 40))),
        )
        for _ in range(args.people)
    ]
    requests = month(args.seed, args.load, pool)
    counts = {s: sum(r.stage == s for r in requests) for s, _ in STAGE_MIX}
    print(
        f"{len(requests)} requests in {DAYS} days from a team of mixed stages {counts}; "
        f"pool of {len(pool)} with {sum(p[3] for p in pool):g} h/week; load {args.load:g}; ageing {args.ageing:g}/h"
    )
    print(f"{'tilt':<6}{'stage':<16}{'requests':>9}{'fulfilled':>10}{'rate':>7}{'median wait h':>15}{'p90 wait h':>12}")
    for tilt in (True, False):
        done = run(requests, pool, PriorityConfig(ageing_per_hour=args.ageing, tilt=tilt))
        rows = [
            (
                r.stage,
                r.assigned is not None,
                (r.assigned - r.created).total_seconds() / 3600 if r.assigned is not None else None,
            )
            for r in done
        ]
        for f in fairness(rows):
            print(
                f"{'on' if tilt else 'off':<6}{f.stage:<16}{f.requests:>9}{f.fulfilled:>10}"
                f"{(f.fulfilment_rate or 0):>7.1%}{_fmt(f.median_wait_hours):>15}{_fmt(f.p90_wait_hours):>12}"
            )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
