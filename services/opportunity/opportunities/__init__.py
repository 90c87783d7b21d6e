"""Opportunities: deals from lead to contract, owned by a rep and placed in an org unit."""

from services.opportunity.opportunities.router import internal_router, router

__all__ = ["internal_router", "router"]
