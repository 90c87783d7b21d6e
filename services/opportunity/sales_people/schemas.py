import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict


class SalesPersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    employee_id: uuid.UUID
    name: str
    org_unit_path: str
    capacity: int
    active: bool
    source_version: int
    updated_at: dt.datetime
    stage: str | None
    stage_since: dt.date | None
    stage_seen_at: dt.datetime | None
