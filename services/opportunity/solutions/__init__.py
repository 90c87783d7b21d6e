"""Solutions: each organisation's catalogue of what it sells and the group's, read by its people, curated by admins."""

from services.opportunity.solutions.router import router

__all__ = ["router"]
