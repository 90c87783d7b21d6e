"""The gateway's schema `gateway`: API keys and the shared rate-limit buckets."""

from sqlalchemy.orm import DeclarativeBase

from sanlun.kernel.db import make_metadata
from sanlun.kernel.routing import idempotency_table

SCHEMA = "gateway"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


# POSTs to the gateway's own routes accept Idempotency-Key like every service's.
idempotency_table(Base.metadata)
