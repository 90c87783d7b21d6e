"""Lifecycle stages: each employee's evaluated stage, its history, overrides and the
stage policies; the rules themselves are in `services/employee_lifecycle/domain/`."""
