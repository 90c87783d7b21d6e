from gateway import models  # noqa: F401 - registers tables
from gateway.db import Base
from sanlun.kernel.migrations import run_env

run_env(Base.metadata)
