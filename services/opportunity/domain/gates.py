"""Stage gates: what a move into a stage requires (pure domain)."""

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.opportunity.domain.checklist import ASSESSMENT_QUESTIONS, has_decision_maker
from services.opportunity.domain.plan import PlanSections
from services.opportunity.domain.policy import Gate
from services.opportunity.domain.stages import Stage

# Closing is not configurable: a win without a date and an amount cannot be counted.
ALWAYS: dict[Stage, tuple[str, ...]] = {Stage.WON: ("closed_on", "amount"), Stage.LOST: ("closed_on",)}

MESSAGES = {
    "account": ("account_id", "the opportunity needs an account"),
    "amount": ("amount", "the opportunity needs an amount"),
    "expected_close_date": ("expected_close_date", "the opportunity needs an expected close date"),
    "closed_on": ("closed_on", "closing needs the close date"),
    "compelling_event": ("compelling_event", "the customer's compelling event is not known"),
    "solution": ("solution_ids", "no solution is attached"),
    "key_player": ("plan.key_players", "the plan names no key player"),
    "decision_maker": ("plan.key_players", "the plan names no decision maker"),
    "competitor": ("plan.competitors", "the plan names no competitor"),
    "assessment_opportunity": (
        "plan.assessment.is_there_an_opportunity",
        "'is there an opportunity' is not answered yes",
    ),
    "assessment_complete": ("plan.assessment", "the four assessment questions are not all answered"),
    "action_plan": ("plan.action_plan", "the plan has no action"),
}


@dataclass(frozen=True, slots=True)
class Facts:
    account_id: object | None
    amount: Decimal | None
    expected_close_date: dt.date | None
    closed_on: dt.date | None
    compelling_event: str | None
    solution_count: int
    plan: PlanSections
    plan_completeness: float


@dataclass(frozen=True, slots=True)
class Unmet:
    stage: Stage
    requirement: str
    field: str
    message: str
    details: dict[str, object] = dataclasses.field(default_factory=dict)


def _met(requirement: str, f: Facts) -> bool:
    match requirement:
        case "account":
            return f.account_id is not None
        case "amount":
            return f.amount is not None
        case "expected_close_date":
            return f.expected_close_date is not None
        case "closed_on":
            return f.closed_on is not None
        case "compelling_event":
            return bool(f.compelling_event)
        case "solution":
            return f.solution_count > 0
        case "key_player":
            return bool(f.plan.key_players)
        case "decision_maker":
            return has_decision_maker(f.plan)
        case "competitor":
            return bool(f.plan.competitors)
        case "assessment_opportunity":
            return f.plan.assessment.is_there_an_opportunity == "yes"
        case "assessment_complete":
            return all(getattr(f.plan.assessment, q) != "unknown" for q in ASSESSMENT_QUESTIONS)
        case "action_plan":
            return bool(f.plan.action_plan)
    raise ValueError(f"unknown requirement {requirement}")


def unmet(stages: list[Stage], facts: Facts, gates: Mapping[str, Gate]) -> list[Unmet]:
    """Every requirement of every stage entered that the facts do not meet."""
    out: list[Unmet] = []
    for stage in stages:
        gate = gates.get(stage.value, Gate())
        for requirement in dict.fromkeys((*ALWAYS.get(stage, ()), *gate.requires)):
            if not _met(requirement, facts):
                field_name, message = MESSAGES[requirement]
                out.append(Unmet(stage, requirement, field_name, message))
        if facts.plan_completeness < gate.min_plan_completeness:
            out.append(
                Unmet(
                    stage,
                    "plan_completeness",
                    "plan",
                    f"plan completeness {facts.plan_completeness:.0%} is below {gate.min_plan_completeness:.0%}",
                    {"observed": facts.plan_completeness, "required": gate.min_plan_completeness},
                )
            )
    return out
