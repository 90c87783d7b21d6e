"""The MCI support desk: pre-sales and expert support requests, the pool, matching and a tilted queue."""

from services.resource_share.support.router import router

__all__ = ["router"]
