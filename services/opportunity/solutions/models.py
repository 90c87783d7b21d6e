from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, composite, mapped_column

from sanlun.kernel.db import RecordMixin
from sanlun.kernel.types import MoneyValue
from services.opportunity.db import Base


class Solution(RecordMixin, Base):
    __tablename__ = "solutions"
    __table_args__ = (
        sa.CheckConstraint("(list_price IS NULL) = (currency IS NULL)", name="list_price_has_currency"),
        sa.CheckConstraint("list_price >= 0", name="list_price_not_negative"),
        sa.Index("ix_solutions_created_at_id", "created_at", "id"),
        sa.Index("ix_solutions_family", "family"),
        sa.Index("ix_solutions_active", "active"),
        # Tag filters are array containment (`@>`), which only GIN indexes serve.
        sa.Index("ix_solutions_industries", "industries", postgresql_using="gin"),
        sa.Index("ix_solutions_size_bands", "size_bands", postgresql_using="gin"),
        # Each organisation keeps its own catalogue and prices: names and import keys are its own.
        sa.UniqueConstraint("organization_path", "name"),
        sa.UniqueConstraint("organization_path", "external_id"),
    )

    # The organisation (first two segments of an org unit path, `/group/east`) whose
    # catalogue it is; the group root (`/group`) for the group-wide entries.
    organization_path: Mapped[str] = mapped_column(sa.String(500))
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    family: Mapped[str | None] = mapped_column(sa.String(100))
    industries: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    size_bands: Mapped[list[str]] = mapped_column(ARRAY(sa.String(50)), default=list)
    list_price_value: Mapped[Decimal | None] = mapped_column("list_price", sa.Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    # The class comes from the annotation, so a row with both columns null reads as None.
    list_price: Mapped[MoneyValue | None] = composite("list_price_value", "currency")
    presales_support_usual: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
