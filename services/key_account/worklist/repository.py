"""The queries of the work lists. Each reads the plans the caller may see
(`visible` on their account) joined to one child table: one statement per page.

The routes answer through `reads` (the same lists as prebuilt statements);
these ORM statements state the rule plainly and are the reference
`tests/services/key_account/test_fast_work_lists.py` holds the fast reads to."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sanlun.kernel.auth import Principal
from services.key_account.accounts.models import Account
from services.key_account.accounts.repository import visible
from services.key_account.contacts.models import Contact
from services.key_account.contacts.repository import best_level_rank
from services.key_account.plans.models import AccountPlan, IncubationItem, PlanAction, RelationshipTarget
from services.key_account.segmentation.repository import level_rank

# Actions without a due date sort after every dated one. The expression is
# spelled exactly as ix_plan_actions_due_key_id indexes it, so a page of the
# whole organisation's actions walks the index instead of sorting them all.
# 'infinity', not 9999-12-31: asyncpg reads infinity as date.max and sends
# date.max back as infinity, so a cursor holding it compares equal.
DUE_KEY = sa.func.coalesce(PlanAction.due_on, sa.literal_column("DATE 'infinity'", sa.Date))


@dataclass(frozen=True, slots=True)
class Scope:
    """The filters every work list takes: whose work (`owner_ids`, or nobody's
    when `unowned`), which account, and plans not ended by `current_on`;
    `today` (business today) decides whose coverage is current."""

    owner_ids: Sequence[uuid.UUID] = ()
    unowned: bool = False
    account_id: uuid.UUID | None = None
    current_on: dt.date | None = None
    today: dt.date | None = None

    def owners(self, column: Any) -> sa.ColumnElement[bool] | None:
        """`column` in the list, or null when `unowned`; None when neither is asked."""
        parts = []
        if self.owner_ids:
            parts.append(column.in_(self.owner_ids))
        if self.unowned:
            parts.append(column.is_(None))
        return sa.or_(*parts) if parts else None

    def plans(self, principal: Principal) -> list[Any]:
        """Plans the principal may see (through their account), narrowed."""
        where: list[Any] = [visible(principal, self.today)]
        if self.account_id is not None:
            where.append(AccountPlan.account_id == self.account_id)
        if self.current_on is not None:
            where.append(AccountPlan.ends_on >= self.current_on)
        return where


def actions(
    principal: Principal, scope: Scope, *, statuses: Sequence[str], due_by: dt.date | None
) -> tuple[sa.Select[Any], tuple[Any, ...]]:
    """The statement and its keyset order: earliest due first, undated last."""
    due_key = DUE_KEY.label("due_key")
    stmt = (
        sa.select(
            PlanAction.id,
            PlanAction.plan_id,
            AccountPlan.period.label("plan_period"),
            AccountPlan.ends_on.label("plan_ends_on"),
            AccountPlan.account_id,
            Account.name.label("account_name"),
            PlanAction.objective_id,
            PlanAction.incumbent_contract_id,
            PlanAction.title,
            PlanAction.owner_id,
            PlanAction.due_on,
            PlanAction.status,
            PlanAction.version,
            due_key,
        )
        .join(AccountPlan, AccountPlan.id == PlanAction.plan_id)
        .join(Account, Account.id == AccountPlan.account_id)
        .where(*scope.plans(principal))
    )
    if statuses:
        stmt = stmt.where(PlanAction.status.in_(statuses))
    if due_by is not None:
        stmt = stmt.where(PlanAction.due_on <= due_by)
    if (owners := scope.owners(PlanAction.owner_id)) is not None:
        stmt = stmt.where(owners)
    return stmt, (due_key, PlanAction.id)


def incubation_items(principal: Principal, scope: Scope, *, statuses: Sequence[str]) -> sa.Select[Any]:
    stmt = (
        sa.select(IncubationItem)
        .join(AccountPlan, AccountPlan.id == IncubationItem.plan_id)
        .join(Account, Account.id == AccountPlan.account_id)
        .where(*scope.plans(principal))
    )
    if statuses:
        stmt = stmt.where(IncubationItem.status.in_(statuses))
    if (owners := scope.owners(IncubationItem.owner_id)) is not None:
        stmt = stmt.where(owners)
    return stmt


def relationship_gaps(principal: Principal, scope: Scope) -> tuple[sa.Select[Any], tuple[Any, ...]]:
    """Unmet targets, largest gap first. The best current level is one lookup
    per target on relationships' (contact_id, employee_id) key."""
    best = best_level_rank(RelationshipTarget.contact_id)
    inner = (
        sa.select(
            RelationshipTarget.id,
            RelationshipTarget.plan_id,
            AccountPlan.period.label("plan_period"),
            AccountPlan.account_id,
            Account.name.label("account_name"),
            RelationshipTarget.contact_id,
            Contact.name.label("contact_name"),
            RelationshipTarget.owner_id,
            RelationshipTarget.target_level,
            best.label("best_rank"),
            (level_rank(RelationshipTarget.target_level) - sa.func.coalesce(best, -1)).label("gap_steps"),
        )
        .join(AccountPlan, AccountPlan.id == RelationshipTarget.plan_id)
        .join(Account, Account.id == AccountPlan.account_id)
        .join(Contact, Contact.id == RelationshipTarget.contact_id)
        .where(*scope.plans(principal))
    )
    if (owners := scope.owners(RelationshipTarget.owner_id)) is not None:
        inner = inner.where(owners)
    gaps = inner.subquery("gaps")
    stmt = sa.select(gaps).where(gaps.c.gap_steps > 0)
    return stmt, (gaps.c.gap_steps, gaps.c.id)
