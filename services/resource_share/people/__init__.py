"""People and their stages as this service last saw them, kept from `employee.*` events."""

from services.resource_share.people.service import EVENT_HANDLERS

__all__ = ["EVENT_HANDLERS"]
