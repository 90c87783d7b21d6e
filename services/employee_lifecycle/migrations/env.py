from sanlun.kernel.migrations import run_env
from services.employee_lifecycle.db import Base
from services.employee_lifecycle.employees import models  # noqa: F401 - registers tables

run_env(Base.metadata)
