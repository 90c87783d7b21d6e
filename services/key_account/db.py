from sqlalchemy.orm import DeclarativeBase

from sanlun.kernel.app import ensure_kernel_tables
from sanlun.kernel.db import make_metadata

SCHEMA = "key_account"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


ensure_kernel_tables(Base.metadata)
