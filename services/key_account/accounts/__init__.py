"""Accounts: customers with their subsidiary hierarchy, owner and owning org unit."""

from services.key_account.accounts.router import router

__all__ = ["router"]
