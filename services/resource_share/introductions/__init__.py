"""Introductions: ranked paths to an account or contact through shared relationships, and asking a connector."""

from services.resource_share.introductions.router import router

__all__ = ["router"]
