"""Requests to use a shared resource: requested → approved|declined → fulfilled → rated."""

from services.resource_share.requests.router import router

__all__ = ["router"]
