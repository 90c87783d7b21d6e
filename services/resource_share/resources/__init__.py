"""Shared resources: assets, cases, experts and relationships, visible by scope."""

from services.resource_share.resources.router import router

__all__ = ["router"]
