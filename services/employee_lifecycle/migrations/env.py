from sanlun.kernel.migrations import run_env
from services.employee_lifecycle import models  # noqa: F401 - registers tables
from services.employee_lifecycle.db import Base

run_env(Base.metadata)
