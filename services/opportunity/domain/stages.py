"""The sales stages of an opportunity and which moves between them are legal
(pure domain: no FastAPI, no SQLAlchemy)."""

from decimal import Decimal
from enum import StrEnum


class Stage(StrEnum):
    LEAD = "lead"
    QUALIFIED = "qualified"
    SOLUTION_DESIGN = "solution_design"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"
    ABANDONED = "abandoned"


OPEN_STAGES: tuple[Stage, ...] = (
    Stage.LEAD,
    Stage.QUALIFIED,
    Stage.SOLUTION_DESIGN,
    Stage.PROPOSAL,
    Stage.NEGOTIATION,
)
CLOSED_STAGES: tuple[Stage, ...] = (Stage.WON, Stage.LOST, Stage.ABANDONED)
# Outcomes that count in win rates (abandoned deals say nothing about the rep).
OUTCOME_STAGES: tuple[Stage, ...] = (Stage.WON, Stage.LOST)
RANK = {stage: i for i, stage in enumerate(OPEN_STAGES)} | {Stage.WON: len(OPEN_STAGES)}

# Weight of an open deal in the forecast when it has no win probability of its own.
DEFAULT_PROBABILITY: dict[Stage, Decimal] = {
    Stage.LEAD: Decimal("0.10"),
    Stage.QUALIFIED: Decimal("0.20"),
    Stage.SOLUTION_DESIGN: Decimal("0.40"),
    Stage.PROPOSAL: Decimal("0.60"),
    Stage.NEGOTIATION: Decimal("0.80"),
    Stage.WON: Decimal(1),
    Stage.LOST: Decimal(0),
    Stage.ABANDONED: Decimal(0),
}


def is_open(stage: Stage) -> bool:
    return stage in OPEN_STAGES


def stages_passed(current: Stage, target: Stage) -> list[Stage]:
    """The stages a forward move enters, in order (their gates all apply)."""
    if target not in RANK or current not in RANK or RANK[target] <= RANK[current]:
        return [target]
    order = [*OPEN_STAGES, Stage.WON]
    return order[RANK[current] + 1 : RANK[target] + 1]


def transition_problem(current: Stage, target: Stage) -> str | None:
    """Why a move is illegal, or None. Open deals may move forward (gated),
    back (not gated) or close; a closed deal is final unless reopened by force."""
    if current == target:
        return f"The opportunity is already in stage {current.value}."
    if current in CLOSED_STAGES:
        return f"The opportunity is closed ({current.value}); only a manager can reopen it, with force and a reason."
    return None


def is_forward(current: Stage, target: Stage) -> bool:
    return target in RANK and current in RANK and RANK[target] > RANK[current]
