"""Pure ESP+ rules: no FastAPI, no SQLAlchemy. Tested directly in tests/services/key_account/domain."""
