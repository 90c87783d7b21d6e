"""Account plan rules: incubation workflow, relationship gaps, review completeness, incubation figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.key_account.domain.segmentation import RELATIONSHIP_LEVELS

INCUBATION_STATUSES = ("idea", "validated", "qualified", "promoted", "dropped")
# `promoted` is reached only by promotion, never by a plain status change.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "idea": frozenset({"validated", "dropped"}),
    "validated": frozenset({"idea", "qualified", "dropped"}),
    "qualified": frozenset({"validated", "dropped"}),
    "promoted": frozenset(),
    "dropped": frozenset({"idea"}),
}
ACTION_STATUSES = ("open", "in_progress", "done", "cancelled")
WHITESPACE_STATUSES = ("ours", "competitor", "open", "blocked")


def transition_error(current: str, new: str) -> str | None:
    """Why an incubation item may not move from `current` to `new`, or None."""
    if new == current:
        return None
    if new == "promoted":
        return "an item becomes promoted only by promoting it to an opportunity"
    if new not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing"
        return f"an item that is {current} can move to {allowed}, not {new}"
    return None


def relationship_gap(target_level: str, current_level: str | None) -> dict[str, Any]:
    """Steps up the ladder vendor → credible_source → problem_solver → trusted_advisor still to climb."""
    target = RELATIONSHIP_LEVELS.index(target_level)
    current = RELATIONSHIP_LEVELS.index(current_level) if current_level in RELATIONSHIP_LEVELS else -1
    gap = max(0, target - current)
    return {
        "current_level": current_level,
        "target_level": target_level,
        "gap_steps": gap,
        "met": gap == 0,
    }


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """Counts about a plan, gathered in one query, that completeness is judged on."""

    has_goal: bool
    has_value_proposition: bool
    critical_success_factors: int
    objectives: int
    objectives_without_actions: int
    relationship_targets: int
    guiding_team_members: int
    whitespace_cells: int
    competitor_facts: int  # competitor cells + incumbent contracts
    incubation_items: int


CHECKS: tuple[tuple[str, str], ...] = (
    ("goal", "the plan has a goal"),
    ("value_proposition", "the plan has a value proposition"),
    ("critical_success_factors", "at least one critical success factor"),
    ("objectives", "at least one objective"),
    ("actions", "every objective has at least one action"),
    ("relationship_targets", "build our advantage: at least one relationship target"),
    ("solution_guiding_team", "build our advantage: a solution-guiding team with members"),
    ("competitors", "isolate competitors: a competitor footprint or an incumbent contract"),
    ("whitespace", "incubate: a whitespace map with at least one cell"),
    ("incubation", "incubate: at least one incubation item"),
)


def completeness(facts: PlanFacts) -> dict[str, Any]:
    met = {
        "goal": facts.has_goal,
        "value_proposition": facts.has_value_proposition,
        "critical_success_factors": facts.critical_success_factors > 0,
        "objectives": facts.objectives > 0,
        "actions": facts.objectives > 0 and facts.objectives_without_actions == 0,
        "relationship_targets": facts.relationship_targets > 0,
        "solution_guiding_team": facts.guiding_team_members > 0,
        "competitors": facts.competitor_facts > 0,
        "whitespace": facts.whitespace_cells > 0,
        "incubation": facts.incubation_items > 0,
    }
    score = round(100 * sum(met.values()) / len(met))
    if score == 100:
        status = "complete"
    elif score >= 70:
        status = "substantial"
    elif score >= 40:
        status = "partial"
    else:
        status = "incomplete"
    return {
        "score": score,
        "status": status,
        "missing": [{"check": code, "message": text} for code, text in CHECKS if not met[code]],
    }


def incubation_summary(counts: Mapping[str, int], median_days: float | None, mean_days: float | None) -> dict[str, Any]:
    """Conversion rate = promoted / items that reached a decision (promoted or dropped);
    `pipeline_rate` = promoted / all items, for plans still young."""
    total = sum(counts.get(s, 0) for s in INCUBATION_STATUSES)
    promoted, dropped = counts.get("promoted", 0), counts.get("dropped", 0)
    decided = promoted + dropped
    return {
        "items": total,
        "by_status": {s: counts.get(s, 0) for s in INCUBATION_STATUSES},
        "conversion_rate": round(promoted / decided, 4) if decided else None,
        "pipeline_rate": round(promoted / total, 4) if total else None,
        "incubation_days_median": None if median_days is None else round(median_days, 1),
        "incubation_days_mean": None if mean_days is None else round(mean_days, 1),
    }
