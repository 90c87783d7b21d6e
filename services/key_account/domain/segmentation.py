"""Who: a weighted segmentation score per account and the tier it gives.

Every factor is scored 0-100. A factor whose input is unknown is left out and
the remaining weights are renormalised, so a missing figure never counts as a
zero; the reasons say which factors were known. The policy is data (weights,
tier thresholds, revenue scale, exchange rates) so an organisation can tune it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

TIERS = ("strategic", "key", "growth", "transactional")
FACTORS = ("revenue", "potential", "strategic_value", "relationship", "solution_fit")
# Relationship levels in ascending order of trust (ESP+ / Miller Heiman ladder).
RELATIONSHIP_LEVELS = ("vendor", "credible_source", "problem_solver", "trusted_advisor")


@dataclass(frozen=True, slots=True)
class Policy:
    weights: Mapping[str, float]
    # Minimum score for each tier above `transactional`, highest first.
    thresholds: Mapping[str, float]
    currency: str
    revenue_floor: Decimal  # scores 0 at or below
    revenue_ceiling: Decimal  # scores 100 at or above (log scale between)
    fx_rates: Mapping[str, Decimal] = field(default_factory=dict)  # 1 unit of key = value in `currency`
    version: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "thresholds": dict(self.thresholds),
            "currency": self.currency,
            "revenue_floor": str(self.revenue_floor),
            "revenue_ceiling": str(self.revenue_ceiling),
            "fx_rates": {k: str(v) for k, v in self.fx_rates.items()},
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        return cls(
            weights={k: float(v) for k, v in data["weights"].items()},
            thresholds={k: float(v) for k, v in data["thresholds"].items()},
            currency=data["currency"],
            revenue_floor=Decimal(str(data["revenue_floor"])),
            revenue_ceiling=Decimal(str(data["revenue_ceiling"])),
            fx_rates={k: Decimal(str(v)) for k, v in (data.get("fx_rates") or {}).items()},
            version=int(data.get("version", 0)),
        )


DEFAULT_POLICY = Policy(
    weights={"revenue": 0.30, "potential": 0.25, "strategic_value": 0.20, "relationship": 0.15, "solution_fit": 0.10},
    thresholds={"strategic": 75.0, "key": 55.0, "growth": 35.0},
    currency="CNY",
    revenue_floor=Decimal(10000000),  # 10 M
    revenue_ceiling=Decimal(100000000000),  # 100 B
    fx_rates={"USD": Decimal("7.20"), "EUR": Decimal("7.80"), "HKD": Decimal("0.92")},
)


def validate_policy(policy: Policy) -> list[tuple[str, str]]:
    """Problems with a policy as (field, message); empty when it is usable."""
    problems: list[tuple[str, str]] = []
    unknown = set(policy.weights) - set(FACTORS)
    if unknown:
        problems.append(("weights", f"unknown factors: {', '.join(sorted(unknown))}"))
    if any(w < 0 for w in policy.weights.values()):
        problems.append(("weights", "weights cannot be negative"))
    if sum(policy.weights.values()) <= 0:
        problems.append(("weights", "at least one weight must be positive"))
    if set(policy.thresholds) != {"strategic", "key", "growth"}:
        problems.append(("thresholds", "give exactly strategic, key and growth"))
    elif not 100 >= policy.thresholds["strategic"] > policy.thresholds["key"] > policy.thresholds["growth"] > 0:
        problems.append(("thresholds", "need 100 >= strategic > key > growth > 0"))
    if not 0 < policy.revenue_floor < policy.revenue_ceiling:
        problems.append(("revenue_ceiling", "need 0 < revenue_floor < revenue_ceiling"))
    if any(rate <= 0 for rate in policy.fx_rates.values()):
        problems.append(("fx_rates", "rates must be positive"))
    return problems


@dataclass(frozen=True, slots=True)
class Inputs:
    revenue_amount: Decimal | None = None
    revenue_currency: str | None = None
    potential: int | None = None  # 0-100, an account manager's or importer's estimate
    strategic_value: int | None = None  # 0-100
    solution_fit: int | None = None  # 0-100
    relationship_strength: int | None = None  # best strength of our relationships, 0-100
    relationship_level: str | None = None  # best level of our relationships


@dataclass(frozen=True, slots=True)
class Reason:
    factor: str
    known: bool
    score: float | None
    weight: float
    contribution: float
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "known": self.known,
            "score": None if self.score is None else round(self.score, 1),
            "weight": round(self.weight, 4),
            "contribution": round(self.contribution, 2),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Segmentation:
    tier: str
    score: float
    reasons: tuple[Reason, ...]
    policy_version: int

    def reasons_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.reasons]


def revenue_score(policy: Policy, amount: Decimal, currency: str) -> tuple[float | None, str]:
    if currency == policy.currency:
        converted = amount
    elif currency in policy.fx_rates:
        converted = amount * policy.fx_rates[currency]
    else:
        return None, f"revenue in {currency} has no exchange rate to {policy.currency} in the policy"
    if converted <= policy.revenue_floor:
        score = 0.0
    elif converted >= policy.revenue_ceiling:
        score = 100.0
    else:
        # Log scale: a 10x bigger customer moves the score by the same step anywhere on the range.
        lo, hi = math.log10(policy.revenue_floor), math.log10(policy.revenue_ceiling)
        score = 100.0 * (math.log10(converted) - lo) / (hi - lo)
    return (
        score,
        (
            f"revenue {converted:,.0f} {policy.currency} "
            f"on a log scale {policy.revenue_floor:,.0f}-{policy.revenue_ceiling:,.0f}"
        ),
    )


def relationship_score(inputs: Inputs) -> tuple[float | None, str]:
    if inputs.relationship_strength is None and inputs.relationship_level is None:
        return None, "no relationships recorded"
    level_score = 0.0
    if inputs.relationship_level in RELATIONSHIP_LEVELS:
        level_score = 100.0 * RELATIONSHIP_LEVELS.index(inputs.relationship_level) / (len(RELATIONSHIP_LEVELS) - 1)
    strength = float(inputs.relationship_strength or 0)
    # The ladder says how deep, the strength how warm: both count equally.
    return (
        level_score + strength
    ) / 2, f"best level {inputs.relationship_level or 'unknown'}, strength {int(strength)}"


def _factor(policy: Policy, inputs: Inputs, factor: str) -> tuple[float | None, str]:
    if factor == "revenue":
        if inputs.revenue_amount is None or inputs.revenue_currency is None:
            return None, "revenue unknown"
        return revenue_score(policy, inputs.revenue_amount, inputs.revenue_currency)
    if factor == "relationship":
        return relationship_score(inputs)
    value = getattr(inputs, factor)
    if value is None:
        return None, f"{factor.replace('_', ' ')} not assessed"
    return float(value), f"{factor.replace('_', ' ')} assessed at {value}"


def tier_for(policy: Policy, score: float) -> str:
    for tier in ("strategic", "key", "growth"):
        if score >= policy.thresholds[tier]:
            return tier
    return "transactional"


def segment(policy: Policy, inputs: Inputs) -> Segmentation:
    scored = [(f, *_factor(policy, inputs, f)) for f in FACTORS if policy.weights.get(f, 0) > 0]
    known_weight = sum(policy.weights[f] for f, s, _ in scored if s is not None)
    reasons = []
    total = 0.0
    for factor, score, note in scored:
        weight = policy.weights[factor] / known_weight if score is not None and known_weight else 0.0
        contribution = (score or 0.0) * weight
        total += contribution
        reasons.append(Reason(factor, score is not None, score, weight, contribution, note))
    total = round(total, 2)
    return Segmentation(tier_for(policy, total), total, tuple(reasons), policy.version)
