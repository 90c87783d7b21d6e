import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.key_account.db import SCHEMA, Base
from services.key_account.domain.segmentation import RELATIONSHIP_LEVELS

BUYING_ROLES = ("approver", "decision_maker", "evaluator", "influencer", "user")
POLITICAL_STATUSES = ("outside", "political_structure", "inner_circle")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Contact(RecordMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        sa.CheckConstraint(_in("buying_role", BUYING_ROLES), name="buying_role_known"),
        sa.CheckConstraint(_in("political_status", POLITICAL_STATUSES), name="political_status_known"),
        sa.Index("ix_contacts_account_id_created_at_id", "account_id", "created_at", "id"),
        sa.Index("ix_contacts_reports_to_id", "reports_to_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    business_unit: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    reports_to_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.contacts.id", ondelete="SET NULL")
    )
    buying_role: Mapped[str | None] = mapped_column(sa.String(32))
    political_status: Mapped[str | None] = mapped_column(sa.String(32))
    decision_orientation: Mapped[str | None] = mapped_column(sa.String(100))


class Relationship(RecordMixin, Base):
    """One of our employees' relationship to a contact."""

    __tablename__ = "relationships"
    __table_args__ = (
        sa.CheckConstraint(_in("level", RELATIONSHIP_LEVELS), name="level_known"),
        sa.CheckConstraint("strength BETWEEN 0 AND 100", name="strength_range"),
        sa.UniqueConstraint("contact_id", "employee_id"),
        sa.Index("ix_relationships_account_id", "account_id"),
        sa.Index("ix_relationships_employee_id", "employee_id"),
    )

    # Denormalised from the contact so an account's map is one index scan.
    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.contacts.id", ondelete="CASCADE"))
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    level: Mapped[str] = mapped_column(sa.String(32))
    strength: Mapped[int] = mapped_column(sa.SmallInteger)
    last_interaction_on: Mapped[dt.date | None] = mapped_column(sa.Date)


class InfluenceLine(RecordMixin, Base):
    """`from_contact` influences `to_contact`."""

    __tablename__ = "influence_lines"
    __table_args__ = (
        sa.CheckConstraint("strength BETWEEN 0 AND 100", name="strength_range"),
        sa.CheckConstraint("from_contact_id <> to_contact_id", name="not_self"),
        sa.UniqueConstraint("from_contact_id", "to_contact_id"),
        sa.Index("ix_influence_lines_account_id", "account_id"),
        sa.Index("ix_influence_lines_to_contact_id", "to_contact_id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    from_contact_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.contacts.id", ondelete="CASCADE")
    )
    to_contact_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.contacts.id", ondelete="CASCADE")
    )
    strength: Mapped[int] = mapped_column(sa.SmallInteger)
    note: Mapped[str | None] = mapped_column(sa.String(1000))
