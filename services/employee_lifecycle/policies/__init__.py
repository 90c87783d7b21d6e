"""Stage policies: versioned rules per organisation, with the shipped default."""

from services.employee_lifecycle.policies.router import router

__all__ = ["router"]
