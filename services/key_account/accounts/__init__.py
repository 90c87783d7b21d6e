"""Accounts: customers with their subsidiary hierarchy, owner and owning org unit; bulk import."""
