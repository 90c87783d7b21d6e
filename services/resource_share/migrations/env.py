from sanlun.kernel.migrations import run_env
from services.resource_share.db import Base
from services.resource_share.resources import models  # noqa: F401 - registers tables

run_env(Base.metadata)
