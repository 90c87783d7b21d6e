"""Every table of the service, imported once so the metadata is complete."""

from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.org_units.models import OrgUnit
from services.employee_lifecycle.policies.models import StagePolicy
from services.employee_lifecycle.quotas.models import Quota
from services.employee_lifecycle.signals.models import Fact
from services.employee_lifecycle.stages.models import EmployeeStage, StageHistory

__all__ = ["Employee", "EmployeeStage", "Fact", "OrgUnit", "Quota", "StageHistory", "StagePolicy"]
