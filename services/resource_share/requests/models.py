import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.resource_share.db import Base

STATUSES = ("requested", "approved", "declined", "fulfilled", "rated")
OUTCOMES = ("contributed_to_win", "contributed", "no_impact")


class ResourceRequest(RecordMixin, Base):
    """One person asking to use another's resource. Owner and requester units
    are copied at creation: visibility is judged against them, not a join."""

    __tablename__ = "resource_requests"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.CheckConstraint(f"outcome IN {OUTCOMES!r}", name="outcome"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        sa.Index("ix_resource_requests_created_at_id", "created_at", "id"),
        sa.Index("ix_resource_requests_resource_id", "resource_id"),
        sa.Index("ix_resource_requests_requester_id", "requester_id"),
        sa.Index("ix_resource_requests_owner_id_status", "owner_id", "status"),
        sa.Index("ix_resource_requests_status", "status"),
        sa.Index("ix_resource_requests_opportunity_id", "opportunity_id"),
        sa.Index(
            "ix_resource_requests_requester_org_unit_path",
            "requester_org_unit_path",
            postgresql_ops={"requester_org_unit_path": "text_pattern_ops"},
        ),
        sa.Index(
            "ix_resource_requests_owner_org_unit_path",
            "owner_org_unit_path",
            postgresql_ops={"owner_org_unit_path": "text_pattern_ops"},
        ),
    )

    resource_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("resources.id"))
    resource_type: Mapped[str] = mapped_column(sa.String(30))
    owner_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    owner_org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    # A relationship's owner stays as hidden from the requester as they chose.
    owner_disclosure: Mapped[str] = mapped_column(sa.String(20))
    requester_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    requester_org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="requested")
    # When it was asked on the business clock (sanlun.kernel.clock); `created_at` stays the record's real time.
    requested_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    due_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str] = mapped_column(sa.Text, default="")
    rated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(sa.String(30))
