from sanlun.kernel.migrations import run_env
from services.resource_share.db import Base
from services.resource_share.influence import models as _influence  # noqa: F401 - registers tables
from services.resource_share.introductions import models as _introductions  # noqa: F401
from services.resource_share.people import models as _people  # noqa: F401
from services.resource_share.requests import models as _requests  # noqa: F401
from services.resource_share.resources import models  # noqa: F401
from services.resource_share.support import models as _support  # noqa: F401

run_env(Base.metadata)
