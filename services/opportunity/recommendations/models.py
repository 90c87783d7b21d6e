import sqlalchemy as sa

from services.opportunity.db import Base

# Won/lost counts per (industry, size band, close month, solution); '' stands
# for an unknown industry or size band so the key stays a primary key.
solution_outcomes = sa.Table(
    "solution_outcomes",
    Base.metadata,
    sa.Column("industry", sa.String(100), primary_key=True),
    sa.Column("size_band", sa.String(50), primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("solution_id", sa.Uuid, primary_key=True),
    sa.Column("wins", sa.Integer, nullable=False),
    sa.Column("losses", sa.Integer, nullable=False),
    sa.Column("won_amount", sa.Numeric(20, 2), nullable=False),
    sa.Index("ix_solution_outcomes_month", "month"),
)
