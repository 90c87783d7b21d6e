"""Stage policies: rules over signals, and the checks a new policy must pass.

A rule is a conjunction of conditions; a stage is reached when any of its
rules is met. L1 takes no rules: it is where everyone not in L2 or L3 lands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from services.employee_lifecycle.domain.catalog import L1, L2, L3, RANK, SIGNALS
from services.employee_lifecycle.domain.lifecycle import DEFAULT_CONFIRM_AFTER_DAYS, DEFAULT_DISTINCT_DAYS, Dwell

OPS = (">=", ">", "<=", "<")
DEFAULT_HYSTERESIS = DEFAULT_DISTINCT_DAYS
MAX_CONFIRM_AFTER_DAYS = 365


@dataclass(frozen=True, slots=True)
class Condition:
    signal: str
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        if self.op == ">=":
            return observed >= self.value
        if self.op == ">":
            return observed > self.value
        if self.op == "<=":
            return observed <= self.value
        return observed < self.value


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    stage: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NeedThresholds:
    """What the needs look for (they select help, not a rating). An
    organisation selling high-volume hardware counts "few wins" differently
    from one selling enterprise software, so these belong to its policy."""

    few_wins_12m: float = 6  # lacks_deals: fewer wins over 12 months ...
    few_open_opportunities: float = 3  # ... or fewer open opportunities
    narrow_solutions: float = 2  # lacks_solution_knowledge: fewer solutions sold
    new_in_sales_months: float = 12  # lacks_support (L1): newer in sales ...
    low_win_rate: float = 0.5  # ... or a lower win rate
    some_influence: float = 10  # wants_influence: at least this influence (always at L3)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> NeedThresholds:
        return cls(**{k: float(v) for k, v in (doc or {}).items()})


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    currency: str = "CNY"
    hysteresis: int = DEFAULT_HYSTERESIS  # scheduled days on which a new stage must be computed
    version: int = 0
    organization_path: str = "/"
    needs: NeedThresholds = NeedThresholds()
    confirm_after_days: int = DEFAULT_CONFIRM_AFTER_DAYS  # how long a new stage must hold

    @property
    def dwell(self) -> Dwell:
        return Dwell(days=self.confirm_after_days, distinct_days=self.hysteresis)

    def rules_for(self, stage: str) -> list[Rule]:
        return [r for r in self.rules if r.stage == stage]


def parse_policy(doc: dict[str, Any], *, version: int = 0, organization_path: str = "/") -> Policy:
    """A policy document as stored (already validated)."""
    return Policy(
        rules=tuple(
            Rule(
                r["id"], r["stage"], tuple(Condition(c["signal"], c["op"], float(c["value"])) for c in r["conditions"])
            )
            for r in doc["rules"]
        ),
        currency=doc.get("currency", "CNY"),
        hysteresis=int(doc.get("hysteresis", DEFAULT_HYSTERESIS)),
        version=version,
        organization_path=organization_path,
        needs=NeedThresholds.from_doc(doc.get("needs")),
        # Versions stored before confirmation by time confirm after the default dwell.
        confirm_after_days=int(doc.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS)),
    )


# -- validation ---------------------------------------------------------------


@dataclass(slots=True)
class Interval:
    """A set of real values, `low`/`high` with open or closed ends."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def narrowed(self, cond: Condition) -> Interval:
        iv = Interval(self.low, self.high, self.low_open, self.high_open)
        v, op = cond.value, cond.op
        if op in (">=", ">"):
            if v > iv.low or (v == iv.low and op == ">"):
                iv.low, iv.low_open = v, op == ">"
        elif v < iv.high or (v == iv.high and op == "<"):
            iv.high, iv.high_open = v, op == "<"
        return iv

    def empty(self, integer: bool) -> bool:
        if self.low > self.high:
            return True
        if self.low == self.high and (self.low_open or self.high_open):
            return True
        if integer and math.isfinite(self.low) and math.isfinite(self.high):
            lo = math.floor(self.low) + 1 if self.low_open else math.ceil(self.low)
            hi = math.ceil(self.high) - 1 if self.high_open else math.floor(self.high)
            return lo > hi
        return False

    def within(self, other: Interval) -> bool:
        low_ok = self.low > other.low or (self.low == other.low and (self.low_open or not other.low_open))
        high_ok = self.high < other.high or (self.high == other.high and (self.high_open or not other.high_open))
        return low_ok and high_ok


def _range(signal: str) -> Interval:
    s = SIGNALS[signal]
    return Interval(s.low, s.high)


def _intervals(rule: Rule) -> dict[str, Interval]:
    out: dict[str, Interval] = {}
    for cond in rule.conditions:
        out[cond.signal] = out.get(cond.signal, _range(cond.signal)).narrowed(cond)
    return out


def implies(a: Rule, b: Rule) -> bool:
    """Everyone who meets `a` also meets `b`."""
    ia, ib = _intervals(a), _intervals(b)
    return all(ia.get(sig, _range(sig)).within(iv) for sig, iv in ib.items())


def validate_policy(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems of a policy document, each `{"loc": [...], "msg": ...}` naming the rule."""
    errors: list[dict[str, Any]] = []
    rules_doc = doc.get("rules") or []
    confirm_after = doc.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS)
    if not isinstance(confirm_after, int) or not 0 <= confirm_after <= MAX_CONFIRM_AFTER_DAYS:
        errors.append(
            {
                "loc": ["body", "confirm_after_days"],
                "msg": f"confirm_after_days must be a whole number of days from 0 to {MAX_CONFIRM_AFTER_DAYS}",
            }
        )

    def err(loc: list[Any], msg: str) -> None:
        errors.append({"loc": ["body", "rules", *loc], "msg": msg})

    seen: set[str] = set()
    rules: list[tuple[int, Rule]] = []
    for i, r in enumerate(rules_doc):
        rid = r["id"]
        if rid in seen:
            err([i, "id"], f"rule {rid}: the id is used twice")
        seen.add(rid)
        if r["stage"] == L1:
            err([i, "stage"], f"rule {rid}: L1_SUBSISTENCE takes no rules, it is where everyone else lands")
            continue
        sound = True
        for j, c in enumerate(r["conditions"]):
            sig = SIGNALS.get(c["signal"])
            if sig is None:
                err([i, "conditions", j, "signal"], f"rule {rid}: unknown signal {c['signal']!r}")
                sound = False
                continue
            cond = Condition(c["signal"], c["op"], float(c["value"]))
            iv = _range(cond.signal).narrowed(cond)
            if iv.empty(sig.integer):
                err(
                    [i, "conditions", j, "value"],
                    f"rule {rid}: {cond.signal} {cond.op} {cond.value:g} can never hold "
                    f"({cond.signal} lies between {sig.low:g} and {sig.high:g})",
                )
                sound = False
            elif iv.within(_range(cond.signal)) and _range(cond.signal).within(iv):
                err([i, "conditions", j, "value"], f"rule {rid}: {cond.signal} {cond.op} {cond.value:g} always holds")
                sound = False
        if not sound:
            continue
        rule = Rule(rid, r["stage"], tuple(Condition(c["signal"], c["op"], float(c["value"])) for c in r["conditions"]))
        contradictory = [s for s, iv in _intervals(rule).items() if iv.empty(SIGNALS[s].integer)]
        for s in contradictory:
            err([i, "conditions"], f"rule {rid}: the conditions on {s} contradict each other")
        if not contradictory:
            rules.append((i, rule))

    errors.extend(
        {"loc": ["body", "rules"], "msg": f"{stage} needs at least one rule"}
        for stage in (L2, L3)
        if not any(r["stage"] == stage for r in rules_doc)
    )

    for i, a in rules:
        for k, b in rules:
            if i == k or RANK[a.stage] > RANK[b.stage] or not implies(a, b):
                continue
            if a.stage == b.stage and implies(b, a) and i < k:
                continue  # two identical rules: name the later one only
            if a.stage != b.stage:
                msg = f"rule {a.id}: overlaps rule {b.id} of {b.stage}; whoever meets it already reaches {b.stage}"
            else:
                msg = f"rule {a.id}: overlaps rule {b.id}; whoever meets it already meets {b.id}"
            err([i], msg)
            break
    return errors


# -- the shipped default -------------------------------------------------------

DEFAULT_POLICY_DOCUMENT: dict[str, Any] = {
    "name": "Sanlun default",
    "currency": "CNY",
    "hysteresis": DEFAULT_HYSTERESIS,
    "confirm_after_days": DEFAULT_CONFIRM_AFTER_DAYS,
    "rules": [
        {
            "id": "l3_quota_mastery",
            "stage": L3,
            "conditions": [
                {"signal": "quota_attainment_4q", "op": ">=", "value": 1.0},
                {"signal": "quarters_at_quota", "op": ">=", "value": 3},
                {"signal": "stable_accounts", "op": ">=", "value": 5},
            ],
        },
        {
            "id": "l3_established_influence",
            "stage": L3,
            "conditions": [
                {"signal": "stable_accounts", "op": ">=", "value": 8},
                {"signal": "win_rate_12m", "op": ">=", "value": 0.5},
                {"signal": "influence_score", "op": ">=", "value": 20},
            ],
        },
        {
            "id": "l2_quota_comfortable",
            "stage": L2,
            "conditions": [
                {"signal": "quota_attainment_4q", "op": ">=", "value": 0.8},
                {"signal": "stable_accounts", "op": ">=", "value": 2},
            ],
        },
        {
            "id": "l2_repeat_business",
            "stage": L2,
            "conditions": [
                {"signal": "stable_accounts", "op": ">=", "value": 3},
                {"signal": "wins_12m", "op": ">=", "value": 6},
            ],
        },
    ],
}
DEFAULT_POLICY = parse_policy(DEFAULT_POLICY_DOCUMENT)


def organization_candidates(org_unit_path: str) -> list[str]:
    """Where a unit's policy may come from, nearest first: its organisation, then the group."""
    parts = [p for p in org_unit_path.split("/") if p]
    return ["/" + "/".join(parts[:n]) for n in (2, 1) if len(parts) >= n]
