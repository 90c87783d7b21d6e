"""Employees: people with their org unit, manager and capacity."""

from services.employee_lifecycle.employees.router import router

__all__ = ["router"]
