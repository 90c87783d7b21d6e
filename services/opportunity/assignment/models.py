import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin, utcnow
from services.opportunity.db import Base


class Proposal(RecordMixin, Base):
    __tablename__ = "assignment_proposals"
    __table_args__ = (
        sa.CheckConstraint("status IN ('proposed', 'committed')", name="status_known"),
        sa.Index("ix_assignment_proposals_created_at_id", "created_at", "id"),
        sa.Index(
            "ix_assignment_proposals_organization_path",
            "organization_path",
            postgresql_ops={"organization_path": "text_pattern_ops"},
        ),
    )

    created_by: Mapped[str] = mapped_column(sa.String(255))
    organization_path: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), default="proposed")
    stages_source: Mapped[str] = mapped_column(sa.String(16))
    stages_as_of: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    result: Mapped[dict] = mapped_column(JSONB)
    commit_result: Mapped[dict | None] = mapped_column(JSONB)
    committed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Decision(Base):
    """Every ownership decision of the assignment node, with its score: the audit trail."""

    __tablename__ = "assignment_decisions"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('proposal', 'override')", name="kind_known"),
        sa.Index("ix_assignment_decisions_created_at_id", "created_at", "id"),
        sa.Index("ix_assignment_decisions_opportunity_id", "opportunity_id"),
        sa.Index("ix_assignment_decisions_proposal_id", "proposal_id"),
        sa.Index("ix_assignment_decisions_employee_id", "employee_id"),
        sa.Index(
            "ix_assignment_decisions_org_unit_path",
            "org_unit_path",
            postgresql_ops={"org_unit_path": "text_pattern_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    opportunity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    kind: Mapped[str] = mapped_column(sa.String(16))
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    previous_owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    score: Mapped[dict | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
