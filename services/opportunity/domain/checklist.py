"""Plan completeness and warnings (pure domain)."""

from dataclasses import dataclass

from services.opportunity.domain.plan import PlanSections
from services.opportunity.domain.policy import ChecklistItem
from services.opportunity.domain.stages import RANK, Stage, is_open

ASSESSMENT_QUESTIONS = ("is_there_an_opportunity", "can_we_compete", "can_we_win", "is_it_worth_winning")


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    message: str


def section_score(plan: PlanSections, section: str) -> float:
    """0..1: how far a section is filled. The assessment scores per answered question."""
    if section == "assessment":
        answered: int = sum(getattr(plan.assessment, q) != "unknown" for q in ASSESSMENT_QUESTIONS)
        return answered / len(ASSESSMENT_QUESTIONS)
    value: object = getattr(plan, section)
    if isinstance(value, list):
        return 1.0 if value else 0.0
    return 0.0 if value is None else 1.0


def completeness(plan: PlanSections, checklist: list[ChecklistItem]) -> tuple[float, dict[str, float]]:
    scores: dict[str, float] = {item.section: section_score(plan, item.section) for item in checklist}
    total = sum(item.weight for item in checklist)
    weighted = sum(item.weight * scores[item.section] for item in checklist)
    return round(weighted / total, 4) if total else 0.0, scores


def has_decision_maker(plan: PlanSections) -> bool:
    return any(p.buying_role == "decision_maker" for p in plan.key_players)


def warnings(plan: PlanSections, *, stage: Stage, compelling_event: str | None) -> list[Warning]:
    out: list[Warning] = []
    if not is_open(stage):
        return out
    if not has_decision_maker(plan):
        out.append(Warning("no_decision_maker", "No key player is marked as the decision maker."))
    if len(plan.key_players) <= 1:
        out.append(Warning("single_threaded", "One contact or none: the deal hangs on a single thread."))
    if not plan.competitors:
        out.append(Warning("no_known_opponent", "No competitor is known; assume there is one you cannot see."))
    if RANK[stage] >= RANK[Stage.QUALIFIED] and not compelling_event:
        out.append(Warning("no_compelling_event", "Qualified without a compelling event: why would they buy now?"))
    return out
