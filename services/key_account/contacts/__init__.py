"""Contacts, our relationships to them, influence lines, and the relationship map."""
