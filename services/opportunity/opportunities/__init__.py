"""Opportunities: deals from lead to contract, owned by a rep and placed in an org unit."""

from services.opportunity.opportunities.router import router

__all__ = ["router"]
