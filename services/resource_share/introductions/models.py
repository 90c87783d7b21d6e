import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.resource_share.db import Base

STATUSES = ("requested", "accepted", "declined", "introduced", "failed")


class Introduction(RecordMixin, Base):
    """A requester asking a connector to introduce them along one ranked path."""

    __tablename__ = "introductions"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.Index("ix_introductions_created_at_id", "created_at", "id"),
        sa.Index("ix_introductions_requester_id", "requester_id"),
        sa.Index("ix_introductions_connector_id_status", "connector_id", "status"),
        sa.Index("ix_introductions_status", "status"),
        sa.Index("ix_introductions_target_contact_id", "target_contact_id"),
        sa.Index(
            "ix_introductions_requester_org_unit_path",
            "requester_org_unit_path",
            postgresql_ops={"requester_org_unit_path": "text_pattern_ops"},
        ),
        sa.Index(
            "ix_introductions_connector_org_unit_path",
            "connector_org_unit_path",
            postgresql_ops={"connector_org_unit_path": "text_pattern_ops"},
        ),
    )

    requester_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    requester_org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    connector_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    connector_org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    connector_disclosure: Mapped[str] = mapped_column(sa.String(20))
    # The connector's relationship on the path (the one they are asked to use).
    relationship_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("resources.id"))
    relationship_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(sa.Uuid))
    target_contact_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    target_account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    strength: Mapped[Decimal] = mapped_column(sa.Numeric(6, 4))
    hops: Mapped[int] = mapped_column(sa.SmallInteger)
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="requested")
    # When it was asked on the business clock (sanlun.kernel.clock); `created_at` stays the record's real time.
    requested_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    note: Mapped[str] = mapped_column(sa.Text, default="")
