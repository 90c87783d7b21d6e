import uuid
from decimal import Decimal

import sqlalchemy as sa
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
    )

    external_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    annual_revenue_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    annual_revenue_currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    employees: Mapped[int | None] = mapped_column(sa.Integer)
    headquarters: Mapped[str | None] = mapped_column(sa.String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id"))
    # An employee id of the employee_lifecycle service: no foreign key across schemas.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))

    @property
    def annual_revenue(self) -> dict[str, object] | None:
        """The API's money object made from the two columns."""
        if self.annual_revenue_amount is None:
            return None
        return {"amount": self.annual_revenue_amount, "currency": self.annual_revenue_currency}


# Serves the case-insensitive `name_prefix` search (`lower(name) LIKE 'acme%'`).
sa.Index(
    "ix_accounts_lower_name",
    sa.func.lower(Account.name).label("lower_name"),
    postgresql_ops={"lower_name": "text_pattern_ops"},
)
