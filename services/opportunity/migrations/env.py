from sanlun.kernel.migrations import run_env
from services.opportunity.assignment import models as assignment_models  # noqa: F401 - registers tables
from services.opportunity.db import Base
from services.opportunity.opportunities import models as opportunity_models  # noqa: F401 - registers tables
from services.opportunity.plans import models as plan_models  # noqa: F401 - registers tables
from services.opportunity.policies import models as policy_models  # noqa: F401 - registers tables
from services.opportunity.recommendations import models as recommendation_models  # noqa: F401 - registers tables
from services.opportunity.sales_people import models as sales_people_models  # noqa: F401 - registers tables
from services.opportunity.solutions import models as solution_models  # noqa: F401 - registers tables

run_env(Base.metadata)
