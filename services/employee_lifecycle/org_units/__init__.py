"""Org units: the organisation tree with materialised paths."""

from services.employee_lifecycle.org_units.router import router

__all__ = ["router"]
