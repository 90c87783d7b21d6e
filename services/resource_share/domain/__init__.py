"""Pure domain rules of resource sharing and the MCI desk: no FastAPI, no SQLAlchemy."""
