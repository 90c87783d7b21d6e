"""Account visibility for prebuilt statements (`sanlun.kernel.reads`): the
rule of `repository.visible`, built once per principal *shape* with the
employee id and business today as bound parameters.

`repository.visible` depends on the principal's kind (`visibility_shape`)
and, for a manager who is not a group admin, on their own org unit (the
accounts covered by members under it), so both make the shape; a statement
built for one shape serves every principal of it. Implicit sharing
(`repository.shared`) is not here: it grants reads of an account and its
contacts, not of its plans' work.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sanlun.kernel.auth import (
    EMPLOYEE_PARAM,
    Principal,
    VisibilityShape,
    path_within,
    shaped_visibility,
    visibility_shape,
)
from services.key_account.accounts.models import Account
from services.key_account.coverage.models import CoverageMember

ACCOUNT = Account.__table__
COVERAGE = CoverageMember.__table__
EMPLOYEE = sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)
# Business today (the request's clock): whose coverage is current.
TODAY_PARAM = "today"
TODAY = sa.bindparam(TODAY_PARAM, type_=sa.Date)


@dataclass(frozen=True, slots=True)
class AccessShape:
    """What `repository.visible` depends on, without who the principal is."""

    visibility: VisibilityShape
    covered_below: str | None = None  # a manager's org unit: accounts covered by members under it


def access_shape(principal: Principal) -> AccessShape:
    covered_below = principal.org_unit_path if principal.has("manager") and not principal.has("group_admin") else None
    return AccessShape(visibility_shape(principal), covered_below)


def _current_coverage() -> sa.ColumnElement[bool]:
    return sa.and_(COVERAGE.c.valid_from <= TODAY, sa.or_(COVERAGE.c.valid_to.is_(None), COVERAGE.c.valid_to >= TODAY))


def visible(shape: AccessShape) -> sa.ColumnElement[bool]:
    """The accounts (`ACCOUNT`) a principal of this shape may see and change:
    owner, current coverage member, the managers above the account's org unit
    or above a current member's, admins of the owning organisation, group
    admins. Bound parameters: `EMPLOYEE_PARAM` and `TODAY_PARAM`."""
    kind = shape.visibility
    covered = sa.select(COVERAGE.c.account_id).where(COVERAGE.c.employee_id == EMPLOYEE, _current_coverage())
    if kind.employee and kind.within is None and not kind.everything:
        # A rep: `id IN (owned UNION covered)`, which the planner sizes right
        # (see `sanlun.kernel.auth.sees_only_own`).
        own = sa.union(sa.select(ACCOUNT.c.id).where(ACCOUNT.c.owner_id == EMPLOYEE), covered).subquery()
        return ACCOUNT.c.id.in_(sa.select(own.c.id))
    clause = shaped_visibility(
        kind,
        employee=EMPLOYEE,
        owner_column=ACCOUNT.c.owner_id,
        org_unit_column=ACCOUNT.c.org_unit_path,
        member_clause=ACCOUNT.c.id.in_(covered) if kind.employee else None,
    )
    if shape.covered_below is not None:
        below = sa.select(COVERAGE.c.account_id).where(
            path_within(COVERAGE.c.org_unit_path, shape.covered_below), _current_coverage()
        )
        clause = sa.or_(clause, ACCOUNT.c.id.in_(below))
    return clause
