import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict


class SalesPersonRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
                    "name": "Li Wei",
                    "org_unit_path": "/group/east/team-3",
                    "capacity": 20,
                    "active": True,
                    "source_version": 3,
                    "updated_at": "2026-11-20T03:00:12Z",
                    "stage": "L1_SUBSISTENCE",
                    "stage_since": "2026-03-01",
                    "stage_seen_at": "2026-11-26T01:00:04Z",
                }
            ]
        },
    )

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
