import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath

StageCode = Literal["L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"]
Need = Literal["lacks_deals", "lacks_solution_knowledge", "lacks_support", "wants_influence"]
SignalName = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class Words(BaseModel):
    en: str
    zh: str


class ConditionResultRead(BaseModel):
    signal: str
    op: str
    threshold: float
    observed: float | None = Field(description="null when the signal is unknown (e.g. no quota set).")
    met: bool | None


class RuleResultRead(BaseModel):
    rule_id: str
    stage: StageCode
    status: Literal["met", "unmet", "unknown"] = Field(
        description="`unknown`: a signal is unknown, so the rule steps aside and the others decide."
    )
    conditions: list[ConditionResultRead]


class GapItemRead(BaseModel):
    signal: str
    observed: float | None
    threshold: float
    en: str
    zh: str


class GapRead(BaseModel):
    target_stage: StageCode
    rule_id: str | None
    items: list[GapItemRead]
    en: str
    zh: str


class PolicyRef(BaseModel):
    organization_path: str = Field(description="`/` for the shipped default.")
    version: int = Field(description="0 for the shipped default.")


class OverrideRead(BaseModel):
    stage: StageCode
    reason: str
    expires_at: dt.datetime
    by: str


class PendingRead(BaseModel):
    stage: StageCode
    agreeing_evaluations: int
    required: int


class EvaluationRead(BaseModel):
    """One evaluation: the stage and everything that explains it."""

    employee_id: uuid.UUID
    as_of: dt.date
    recorded: bool = Field(description="false for a preview (`record: false`): nothing was stored.")
    stage: StageCode = Field(description="The effective stage (after hysteresis and any override) when recorded; "
                                         "the computed stage in a preview.")
    stage_since: dt.date | None
    computed_stage: StageCode
    changed: bool
    pending: PendingRead | None = Field(description="A different stage waiting for agreeing evaluations.")
    policy: PolicyRef
    rules: list[RuleResultRead]
    signals: dict[str, float | None]
    needs: list[Need]
    reasons: Words
    gap: GapRead | None = Field(description="What separates the stage from the next; null at L3.")


class StageRead(BaseModel):
    """The stored stage of an employee with its last evaluation."""

    employee_id: uuid.UUID
    stage: StageCode
    stage_since: dt.date
    evaluated_stage: StageCode
    evaluated_since: dt.date
    pending: PendingRead | None
    override: OverrideRead | None
    needs: list[Need]
    policy_version: int
    last_as_of: dt.date
    evaluated_at: dt.datetime
    last_evaluation: dict[str, Any]


class EvaluateOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: dt.date | None = Field(None, description="Evaluate the signals as they were on this day (default today).")
    record: bool = Field(True, description="false: a preview that stores nothing (e.g. a past `as_of`).")


class EvaluateMany(EvaluateOne):
    employee_ids: Annotated[list[uuid.UUID] | None, Field(max_length=1000)] = None
    org_unit: OrgUnitPath | None = None


class EvaluateManyResult(BaseModel):
    evaluated: int
    changed: int
    not_found: list[uuid.UUID]
    items: list[EvaluationRead] = Field(description="Each evaluation; omitted (empty) for a whole org unit "
                                                    "unless `employee_ids` was given.")


class OverrideWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: StageCode
    reason: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
    expires_at: dt.datetime = Field(description="When the override ends and the evaluated stage applies again.")


class HistoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: StageCode
    previous_stage: StageCode | None
    since: dt.date
    reason: Literal["evaluation", "override", "override_expired"]
    policy_version: int
    detail: dict[str, Any]
    recorded_at: dt.datetime


class BatchGet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


class StageSnapshotRead(BaseModel):
    employee_id: uuid.UUID
    stage: StageCode | None = Field(description="null until the employee is first evaluated.")
    stage_since: dt.date | None
    capacity: int
    open_load: int = Field(description="Open opportunities owned today (from opportunity events).")
    needs: list[Need]


class BatchGetResult(BaseModel):
    items: list[StageSnapshotRead]
    not_found: list[uuid.UUID] = Field(description="Ids that do not exist or that you may not see.")
