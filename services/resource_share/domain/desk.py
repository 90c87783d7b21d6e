"""The MCI support desk: priority with a stage tilt and ageing, and matching.

    priority = urgency × deal value factor × stage weight + ageing × hours waited

The product ranks what matters now; the stage weight tilts help towards people
who need it most (L1 × 2 by default); the ageing term grows without bound, so a
request that keeps losing eventually overtakes every fresh one: nothing starves.
Every priority carries the reason codes that made it.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

STAGES = ("L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT")
URGENCY = {"low": 1.0, "normal": 2.0, "high": 3.0, "critical": 4.0}
DEFAULT_STAGE_WEIGHTS: Mapping[str, float] = {"L1_SUBSISTENCE": 2.0, "L2_COMFORTABLE": 1.0, "L3_AFFLUENT": 1.0}


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    stage_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_STAGE_WEIGHTS))
    # Points per hour waited; 0.25 lets an equal L2 request overtake a fresh L1 one after a day.
    ageing_per_hour: float = 0.25
    tilt: bool = True


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    detail: str
    factor: float


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    reasons: tuple[Reason, ...]


def deal_value_factor(amount: Decimal | float | None) -> float:
    """1 for no value, +1 per tenfold above 1,000: large deals matter more, not absolutely more."""
    if amount is None or amount <= 0:
        return 1.0
    return 1.0 + math.log10(1.0 + float(amount) / 1000.0)


def priority(
    *,
    urgency: str,
    deal_amount: Decimal | float | None,
    stage: str | None,
    created_at: dt.datetime,
    now: dt.datetime,
    config: PriorityConfig = PriorityConfig(),
) -> Priority:
    u = URGENCY[urgency]
    v = deal_value_factor(deal_amount)
    reasons = [
        Reason(f"urgency_{urgency}", f"urgency {urgency}", u),
        Reason("deal_value", f"deal value {deal_amount if deal_amount is not None else 'unknown'}", round(v, 3)),
    ]
    if stage is None:
        s = 1.0
        reasons.append(Reason("stage_unknown", "requester's stage is unknown; no tilt", 1.0))
    elif config.tilt and config.stage_weights.get(stage, 1.0) != 1.0:
        s = config.stage_weights[stage]
        reasons.append(Reason("stage_tilt", f"requester is {stage}: weight × {s:g}", s))
    else:
        s = 1.0
        reasons.append(Reason("stage_neutral", f"requester is {stage}: no tilt", 1.0))
    hours = max(0.0, (now - created_at).total_seconds() / 3600.0)
    ageing = config.ageing_per_hour * hours
    if ageing > 0:
        reasons.append(Reason("ageing", f"waited {hours:.1f} h: + {ageing:.2f}", round(ageing, 3)))
    return Priority(round(u * v * s + ageing, 4), tuple(reasons))


@dataclass(frozen=True, slots=True)
class Candidate:
    employee_id: uuid.UUID
    skills: frozenset[str]
    industries: frozenset[str]
    free_hours: float


@dataclass(frozen=True, slots=True)
class Match:
    employee_id: uuid.UUID
    score: float
    skill_coverage: float
    industry_match: bool
    free_hours: float
    reasons: tuple[str, ...]


def match(
    *,
    skills: Iterable[str],
    industry: str | None,
    hours_needed: float,
    candidates: Iterable[Candidate],
    exclude: Iterable[uuid.UUID] = (),
) -> list[Match]:
    """Pool members who can take the request, best first: skills covered
    (60%), industry (25%), share of free capacity left after taking it (15%).
    Someone without the free hours, or with none of the skills asked, is no match."""
    wanted = {s.lower() for s in skills}
    excluded = set(exclude)
    out = []
    for c in candidates:
        if c.employee_id in excluded or c.free_hours < hours_needed:
            continue
        have = {s.lower() for s in c.skills}
        coverage = len(wanted & have) / len(wanted) if wanted else 1.0
        if wanted and coverage == 0:
            continue
        in_industry = industry is not None and industry.lower() in {i.lower() for i in c.industries}
        headroom = (c.free_hours - hours_needed) / c.free_hours if c.free_hours > 0 else 0.0
        score = 0.6 * coverage + 0.25 * in_industry + 0.15 * headroom
        reasons = [f"skills {len(wanted & have)}/{len(wanted)}"]
        reasons.append("industry match" if in_industry else "other industry")
        reasons.append(f"{c.free_hours:g} h free this week")
        out.append(Match(c.employee_id, round(score, 4), round(coverage, 3), in_industry, c.free_hours, tuple(reasons)))
    return sorted(out, key=lambda m: (-m.score, -m.free_hours, str(m.employee_id)))


@dataclass(frozen=True, slots=True)
class StageFairness:
    stage: str
    requests: int
    fulfilled: int
    fulfilment_rate: float | None
    median_wait_hours: float | None
    p90_wait_hours: float | None


def fairness(rows: Sequence[tuple[str | None, bool, float | None]]) -> list[StageFairness]:
    """Per stage: requests, fulfilled, rate, median and p90 wait. Rows are
    (stage, fulfilled, wait hours or None when never picked up)."""
    by_stage: dict[str, list[tuple[bool, float | None]]] = {}
    for stage, done, wait in rows:
        by_stage.setdefault(stage or "unknown", []).append((done, wait))
    out = []
    for stage in [*STAGES, "unknown"]:
        items = by_stage.get(stage, [])
        if not items and stage == "unknown":
            continue
        waits = sorted(w for _, w in items if w is not None)
        fulfilled = sum(1 for d, _ in items if d)
        out.append(
            StageFairness(
                stage=stage,
                requests=len(items),
                fulfilled=fulfilled,
                fulfilment_rate=round(fulfilled / len(items), 4) if items else None,
                median_wait_hours=round(statistics.median(waits), 2) if waits else None,
                p90_wait_hours=round(_quantile(waits, 0.9), 2) if waits else None,
            )
        )
    return out


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
