"""The sales stages of an opportunity (pure domain: no FastAPI, no SQLAlchemy)."""

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

