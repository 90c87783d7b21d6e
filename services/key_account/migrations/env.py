from sanlun.kernel.migrations import run_env
from services.key_account.accounts import models  # noqa: F401 - registers tables
from services.key_account.contacts import models as contact_models  # noqa: F401
from services.key_account.coverage import models as coverage_models  # noqa: F401
from services.key_account.db import Base
from services.key_account.plans import models as plan_models  # noqa: F401
from services.key_account.segmentation import models as segmentation_models  # noqa: F401

run_env(Base.metadata)
