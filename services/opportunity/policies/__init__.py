"""Per-organisation policy: plan checklist, stage gates, assignment weights."""

from services.opportunity.policies.router import router

__all__ = ["router"]
