"""Solutions: the catalogue of what we sell, readable by all, curated by admins."""

from services.opportunity.solutions.router import router

__all__ = ["router"]
