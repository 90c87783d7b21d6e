from sqlalchemy.orm import DeclarativeBase

from sanlun.kernel.app import ensure_kernel_tables
from sanlun.kernel.baselines import baselines_table
from sanlun.kernel.db import make_metadata

SCHEMA = "key_account"


class Base(DeclarativeBase):
    metadata = make_metadata(SCHEMA)


ensure_kernel_tables(Base.metadata)
# What each import source last sent per record (the bulk upserts' three-way merge).
IMPORT_BASELINES = baselines_table(Base.metadata)
