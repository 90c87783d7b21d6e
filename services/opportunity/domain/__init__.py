"""The opportunity service's pure rules: sales stages and their gates, the
plan's sections and checklist, the policy document, assignment scoring and
solving, recommendation ranking.

Nothing here imports FastAPI, SQLAlchemy or httpx (tests/test_architecture.py
holds that); it is tested directly, without a database."""
