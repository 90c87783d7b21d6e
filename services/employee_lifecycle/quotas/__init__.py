"""Quotas per employee per quarter."""

from services.employee_lifecycle.quotas.router import router

__all__ = ["router"]
