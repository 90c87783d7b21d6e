from sanlun.kernel.migrations import run_env
from services.key_account.accounts import models  # noqa: F401 - registers tables
from services.key_account.db import Base

run_env(Base.metadata)
