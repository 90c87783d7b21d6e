import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.key_account.db import SCHEMA, Base


class Account(RecordMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint("employees >= 0", name="employees_non_negative"),
        # Money is one value: an amount without its currency means nothing.
        sa.CheckConstraint(
            "(annual_revenue_amount IS NULL) = (annual_revenue_currency IS NULL)", name="annual_revenue_pair"
        ),
        sa.Index("ix_accounts_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}),
        sa.Index("ix_accounts_created_at_id", "created_at", "id"),
        sa.Index("ix_accounts_owner_id", "owner_id"),
        sa.Index("ix_accounts_parent_id", "parent_id"),
        sa.Index("ix_accounts_industry", "industry"),
        sa.Index("ix_accounts_tier", "tier"),
        sa.CheckConstraint("potential BETWEEN 0 AND 100", name="potential_range"),
        sa.CheckConstraint("strategic_value BETWEEN 0 AND 100", name="strategic_value_range"),
        sa.CheckConstraint("solution_fit BETWEEN 0 AND 100", name="solution_fit_range"),
    )

    external_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # lower(name) in byte order (collation "C"): a btree on it serves both
    # `LIKE 'acme%'` and ORDER BY, which a text_pattern_ops index cannot.
    name_key: Mapped[str] = mapped_column(
        sa.String(200, collation="C"), sa.Computed("lower((name)::text)", persisted=True)
    )
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    annual_revenue_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    annual_revenue_currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    employees: Mapped[int | None] = mapped_column(sa.Integer)
    headquarters: Mapped[str | None] = mapped_column(sa.String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id"))
    # An employee id of the employee_lifecycle service: no foreign key across schemas.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    # Who: the inputs an account manager assesses, and the result of the policy.
    potential: Mapped[int | None] = mapped_column(sa.SmallInteger)
    strategic_value: Mapped[int | None] = mapped_column(sa.SmallInteger)
    solution_fit: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # The effective tier: the override when there is one, else the computed one.
    tier: Mapped[str | None] = mapped_column(sa.String(16))
    computed_tier: Mapped[str | None] = mapped_column(sa.String(16))
    tier_score: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))
    tier_reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    tier_policy_version: Mapped[int | None] = mapped_column(sa.Integer)
    tier_evaluated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    tier_override: Mapped[str | None] = mapped_column(sa.String(16))
    tier_override_reason: Mapped[str | None] = mapped_column(sa.Text)
    tier_overridden_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    tier_overridden_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Bumped on every coverage change; carried by `account.coverage_changed` so consumers drop stale facts.
    coverage_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    @property
    def segmentation(self) -> dict[str, Any] | None:
        if self.tier is None:
            return None
        override = None
        if self.tier_override is not None:
            override = {
                "tier": self.tier_override,
                "reason": self.tier_override_reason,
                "by": self.tier_overridden_by,
                "at": self.tier_overridden_at,
            }
        return {
            "tier": self.tier,
            "computed_tier": self.computed_tier,
            "score": self.tier_score,
            "reasons": self.tier_reasons or [],
            "policy_version": self.tier_policy_version,
            "evaluated_at": self.tier_evaluated_at,
            "override": override,
        }

    @property
    def annual_revenue(self) -> dict[str, object] | None:
        """The API's money object made from the two columns."""
        if self.annual_revenue_amount is None:
            return None
        return {"amount": self.annual_revenue_amount, "currency": self.annual_revenue_currency}


# Serves the `name_prefix` search: the prefix range *and* its alphabetical
# order come from one index walk, which stops after a page.
sa.Index("ix_accounts_name_key_id", Account.name_key, Account.id)


# -- implicit sharing: who works the deals on an account ---------------------------
#
# Kept from `opportunity.*` events (and `POST /ops/account-shares/resync`): the
# owner and the team members of an opportunity may read its account and the
# account's contacts, read-only. Opportunities live in the opportunity service:
# plain references, no foreign key; an account id may name an account not
# imported here yet (the share applies once it is).

SHARE_SOURCES = ("owner", "team")
# The opportunity service's closed stages: a deal in none of them is open.
CLOSED_STAGES = ("won", "lost", "abandoned")


class SharedOpportunity(Base):
    """The last known facts of one opportunity, with the `version` they came
    with: an event older than `version` changes nothing."""

    __tablename__ = "shared_opportunities"
    __table_args__ = (
        sa.Index("ix_shared_opportunities_account_id_owner_id", "account_id", "owner_id"),
        # Managers (and org admins) see the accounts of the deals owned under their org unit.
        sa.Index(
            "ix_shared_opportunities_org_unit_path",
            "org_unit_path",
            postgresql_ops={"org_unit_path": "text_pattern_ops"},
        ),
    )

    opportunity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # The opportunity's org unit (null when only a resync, which does not carry it, saw the deal).
    org_unit_path: Mapped[str | None] = mapped_column(sa.String(500))
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    version: Mapped[int] = mapped_column(sa.Integer)
    # A deleted opportunity keeps this row (without shares) so a late event cannot bring it back.
    deleted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class AccountShare(Base):
    """One employee's read access to an account through one opportunity: as its
    owner, or as a member of its team (with the team role)."""

    __tablename__ = "account_shares"
    __table_args__ = (
        sa.CheckConstraint(f"source IN ({', '.join(repr(s) for s in SHARE_SOURCES)})", name="source_known"),
        # The visibility subquery: "the accounts shared with me" is an index-only scan.
        sa.Index("ix_account_shares_employee_id_account_id", "employee_id", "account_id"),
        sa.Index("ix_account_shares_account_id", "account_id"),
    )

    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.shared_opportunities.opportunity_id", ondelete="CASCADE"), primary_key=True
    )
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    role: Mapped[str | None] = mapped_column(sa.String(64))
    # Denormalised from the opportunity so the visibility subquery needs no join.
    account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    since: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
