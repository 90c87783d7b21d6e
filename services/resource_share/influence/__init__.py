"""Influence per employee (with the breakdown) and the opt-in public profile."""

from services.resource_share.influence.router import router
from services.resource_share.influence.service import EVENT_HANDLERS

__all__ = ["EVENT_HANDLERS", "router"]
