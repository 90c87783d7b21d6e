"""Sales people as the assignment node sees them: a local view kept from events."""

from services.opportunity.sales_people.router import router
from services.opportunity.sales_people.service import EVENT_HANDLERS

__all__ = ["EVENT_HANDLERS", "router"]
