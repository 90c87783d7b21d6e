import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from services.key_account.plans.schemas import ActionStatus, Level

_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_PLAN = "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
_EMPLOYEE = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"


class WorkAction(BaseModel):
    """A plan action with the account and plan it belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9d2c4b6a-1e3f-4a5b-8c7d-6e5f4a3b2c1d",
                    "plan_id": _PLAN,
                    "plan_period": "2026",
                    "plan_ends_on": "2026-12-31",
                    "account_id": _ACCOUNT,
                    "account_name": "Zhejiang Sunrise Logistics",
                    "objective_id": "ef56ab78-c901-4d2e-8f3a-b4c5d6e7f8a9",
                    "incumbent_contract_id": "f067bc89-d012-4e3f-9a4b-c5d6e7f8a9b0",
                    "title": "Book the CIO briefing on the warehouse rollout",
                    "owner_id": _EMPLOYEE,
                    "due_on": "2026-12-03",
                    "status": "open",
                    "overdue": False,
                    "version": 2,
                }
            ]
        }
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    plan_period: str
    plan_ends_on: dt.date
    account_id: uuid.UUID
    account_name: str
    objective_id: uuid.UUID | None
    incumbent_contract_id: uuid.UUID | None
    title: str
    owner_id: uuid.UUID | None
    due_on: dt.date | None
    status: ActionStatus
    overdue: bool = Field(description="Open or in progress, and due before today.")
    version: int


class RelationshipGap(BaseModel):
    """A relationship target of a plan that is not met yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b",
                    "plan_id": _PLAN,
                    "plan_period": "2026",
                    "account_id": _ACCOUNT,
                    "account_name": "Zhejiang Sunrise Logistics",
                    "contact_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                    "contact_name": "Wang Fang",
                    "owner_id": _EMPLOYEE,
                    "target_level": "trusted_advisor",
                    "current_level": "credible_source",
                    "gap_steps": 2,
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="The relationship target's id.")
    plan_id: uuid.UUID
    plan_period: str
    account_id: uuid.UUID
    account_name: str
    contact_id: uuid.UUID
    contact_name: str
    owner_id: uuid.UUID | None = Field(description="Who should build the relationship.")
    target_level: Level
    current_level: Level | None = Field(description="Best level any of our employees holds with the contact.")
    gap_steps: int = Field(
        ge=1, description="Steps still to climb on vendor → credible_source → problem_solver → trusted_advisor."
    )
