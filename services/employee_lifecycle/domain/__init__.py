"""The stage engine's pure domain: signals catalogue, policy validation, rule
evaluation, needs, the gap in plain words, hysteresis and overrides.

Nothing here imports FastAPI or SQLAlchemy; it is tested directly."""
