import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath
from services.employee_lifecycle.domain.catalog import StageCode

HistoryKind = Literal["confirmed", "provisional", "override", "override_expired"]
Need = Literal["lacks_deals", "lacks_solution_knowledge", "lacks_support", "wants_influence"]
SignalName = Annotated[str, StringConstraints(min_length=1, max_length=60)]

_EMPLOYEE = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"
_MANAGER = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
_SIGNALS: dict[str, Any] = {
    "tenure_months": 19,
    "wins_12m": 6,
    "win_rate_12m": 0.4615,
    "revenue_12m": 1385000.0,
    "quota_attainment_4q": 0.74,
    "quarters_at_quota": 1,
    "stable_accounts": 3,
    "open_pipeline_count": 8,
    "open_pipeline_value": 2460000.0,
    "solution_breadth": 3,
    "influence_score": 4.5,
}
_RULES: list[dict[str, Any]] = [
    {
        "rule_id": "l3_quota_mastery",
        "stage": "L3_AFFLUENT",
        "status": "unmet",
        "conditions": [
            {"signal": "quota_attainment_4q", "op": ">=", "threshold": 1.0, "observed": 0.74, "met": False},
            {"signal": "quarters_at_quota", "op": ">=", "threshold": 3.0, "observed": 1, "met": False},
            {"signal": "stable_accounts", "op": ">=", "threshold": 5.0, "observed": 3, "met": False},
        ],
    },
    {
        "rule_id": "l3_established_influence",
        "stage": "L3_AFFLUENT",
        "status": "unmet",
        "conditions": [
            {"signal": "stable_accounts", "op": ">=", "threshold": 8.0, "observed": 3, "met": False},
            {"signal": "win_rate_12m", "op": ">=", "threshold": 0.5, "observed": 0.4615, "met": False},
            {"signal": "influence_score", "op": ">=", "threshold": 20.0, "observed": 4.5, "met": False},
        ],
    },
    {
        "rule_id": "l2_quota_comfortable",
        "stage": "L2_COMFORTABLE",
        "status": "unmet",
        "conditions": [
            {"signal": "quota_attainment_4q", "op": ">=", "threshold": 0.8, "observed": 0.74, "met": False},
            {"signal": "stable_accounts", "op": ">=", "threshold": 2.0, "observed": 3, "met": True},
        ],
    },
    {
        "rule_id": "l2_repeat_business",
        "stage": "L2_COMFORTABLE",
        "status": "met",
        "conditions": [
            {"signal": "stable_accounts", "op": ">=", "threshold": 3.0, "observed": 3, "met": True},
            {"signal": "wins_12m", "op": ">=", "threshold": 6.0, "observed": 6, "met": True},
        ],
    },
]
_REASONS = {
    "en": "Rule l2_repeat_business is met: stable accounts 3 >= 3, wins over 12 months 6 >= 6.",
    "zh": "满足规则 l2_repeat_business：稳定客户数 3 >= 3，12个月赢单数 6 >= 6。",
}
_GAP_TO_L2 = {
    "target_stage": "L2_COMFORTABLE",
    "rule_id": "l2_repeat_business",
    "items": [],
    "en": "Criteria for comfortable are met.",
    "zh": "已满足小康的条件。",
}
_PENDING = {
    "stage": "L2_COMFORTABLE",
    "since": "2026-11-20",
    "days_held": 6,
    "days_counted": 7,
    "days_required": 2,
    "confirm_after_days": 14,
    "confirm_on": "2026-12-04",
}
_PROVISIONAL = {"stage": "L2_COMFORTABLE", "since": "2026-11-20", "reasons": _REASONS}
# A rep whose signals reach L2: provisional until the scheduled rounds have
# seen it hold for 14 days (confirm_after_days), then confirmed.
EVALUATION: dict[str, Any] = {
    "employee_id": _EMPLOYEE,
    "as_of": "2026-11-26",
    "recorded": True,
    "scheduled": True,
    "stage": "L1_SUBSISTENCE",
    "stage_since": "2025-05-01",
    "computed_stage": "L2_COMFORTABLE",
    "changed": False,
    "provisional": _PROVISIONAL,
    "pending": _PENDING,
    "policy": {"organization_path": "/", "version": 0},
    "rules": _RULES,
    "signals": _SIGNALS,
    "needs": ["lacks_support"],
    "reasons": _REASONS,
    "gap": _GAP_TO_L2,
}


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
    """The candidate the scheduled rounds are watching: confirmed once it has
    held `confirm_after_days` and been computed on `days_required` distinct days."""

    stage: StageCode = Field(
        description="What the scheduled round would confirm: the stage closest to the confirmed one "
        "computed during the dwell (one step at a time)."
    )
    since: dt.date = Field(description="The first scheduled day that computed it.")
    days_held: int = Field(description="Days from `since` to the last scheduled day that counted.")
    days_counted: int = Field(description="Distinct scheduled days that computed it.")
    days_required: int = Field(description="Distinct scheduled days needed (the policy's `hysteresis`).")
    confirm_after_days: int = Field(description="The policy's minimum dwell.")
    confirm_on: dt.date = Field(
        description="The earliest day a scheduled round may confirm it, if it still holds then."
    )


class ProvisionalRead(BaseModel):
    """What the latest evaluation computed, where it differs from the confirmed stage."""

    stage: StageCode
    since: dt.date = Field(description="The first evaluation (as_of) that computed it in a row.")
    reasons: Words | None = Field(description="Why the latest evaluation computed it.")


class EvaluationRead(BaseModel):
    """One evaluation: the stage and everything that explains it."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVALUATION]})

    employee_id: uuid.UUID
    as_of: dt.date
    recorded: bool = Field(description="false for a preview (`record: false`): nothing was stored.")
    scheduled: bool = Field(
        False, description="true for the scheduled round, the only evaluation that moves a dwell and confirms."
    )
    stage: StageCode = Field(
        description="The effective stage (confirmed, or an override in force) when recorded; "
        "the computed stage in a preview."
    )
    stage_since: dt.date | None
    computed_stage: StageCode
    changed: bool = Field(description="The effective stage changed (and `employee.stage_changed` was published).")
    provisional: ProvisionalRead | None = Field(
        None, description="The computed stage where it differs from the confirmed one (recorded evaluations)."
    )
    pending: PendingRead | None = Field(description="A different stage holding for its dwell.")
    policy: PolicyRef
    rules: list[RuleResultRead]
    signals: dict[str, float | None]
    needs: list[Need]
    reasons: Words
    gap: GapRead | None = Field(description="What separates the stage from the next; null at L3.")


class StageRead(BaseModel):
    """The stored stage of an employee with its last evaluation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _EMPLOYEE,
                    "stage": "L2_COMFORTABLE",
                    "stage_since": "2026-11-20",
                    "evaluated_stage": "L1_SUBSISTENCE",
                    "evaluated_since": "2025-05-01",
                    "provisional": _PROVISIONAL,
                    "pending": _PENDING,
                    "override": {
                        "stage": "L2_COMFORTABLE",
                        "reason": "Took over the Sunrise Logistics key account from Chen Jie.",
                        "expires_at": "2027-02-28T16:00:00Z",
                        "by": _MANAGER,
                    },
                    "needs": [],
                    "policy_version": 0,
                    "last_as_of": "2026-11-26",
                    "evaluated_at": "2026-11-26T01:00:03Z",
                    "last_evaluation": {
                        "as_of": "2026-11-26",
                        "computed_stage": "L2_COMFORTABLE",
                        "decided_by": "l2_repeat_business",
                        "policy": {"organization_path": "/", "version": 0},
                        "rules": _RULES,
                        "signals": _SIGNALS,
                        "needs": [],
                        "reasons": _REASONS,
                        "gap": _GAP_TO_L2,
                        "hysteresis": 2,
                        "confirm_after_days": 14,
                        "scheduled": True,
                    },
                }
            ]
        }
    )

    employee_id: uuid.UUID
    stage: StageCode = Field(description="The effective stage: the confirmed one, or an override in force.")
    stage_since: dt.date
    evaluated_stage: StageCode = Field(description="The confirmed stage of the evaluations.")
    evaluated_since: dt.date
    provisional: ProvisionalRead | None = Field(
        description="What the latest evaluation computed, where it differs from the confirmed stage."
    )
    pending: PendingRead | None = Field(description="The candidate holding for its dwell, and when it may confirm.")
    override: OverrideRead | None
    needs: list[Need]
    policy_version: int
    last_as_of: dt.date
    evaluated_at: dt.datetime
    last_evaluation: dict[str, Any]


class EvaluateOne(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"as_of": "2017-06-30", "record": False},
            ]
        },
    )

    as_of: dt.date | None = Field(
        None,
        description="Evaluate the signals as they were on this day (default today, by the service's clock); "
        "1900-01-01 to 2199-12-31.",
    )
    record: bool = Field(
        True,
        description="false: a preview that stores nothing (e.g. a past `as_of`). true: stores the explanation "
        "and the provisional stage; only the scheduled round (`POST /ops/stages/round`) confirms a change.",
    )


class EvaluateMany(EvaluateOne):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"org_unit": "/group/east/team-3"},
                {
                    "employee_ids": [_EMPLOYEE, "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"],
                    "as_of": "2017-12-31",
                    "record": False,
                },
            ]
        }
    )

    employee_ids: Annotated[list[uuid.UUID] | None, Field(max_length=1000)] = None
    org_unit: OrgUnitPath | None = None


class EvaluateManyResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "evaluated": 1,
                    "changed": 0,
                    "provisional": 1,
                    "not_found": ["3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"],
                    "items": [EVALUATION],
                }
            ]
        }
    )

    evaluated: int
    changed: int = Field(description="Effective stages that changed (first evaluations, expired overrides).")
    provisional: int = Field(0, description="Provisional stages that moved.")
    not_found: list[uuid.UUID]
    items: list[EvaluationRead] = Field(
        description="Each evaluation; omitted (empty) for a whole org unit unless `employee_ids` was given."
    )


class OverrideWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "stage": "L2_COMFORTABLE",
                    "reason": "Took over the Sunrise Logistics key account from Chen Jie.",
                    "expires_at": "2027-02-28T16:00:00Z",
                }
            ]
        },
    )

    stage: StageCode
    reason: Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
    expires_at: dt.datetime = Field(description="When the override ends and the evaluated stage applies again.")


class HistoryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 5581,
                    "stage": "L2_COMFORTABLE",
                    "previous_stage": "L1_SUBSISTENCE",
                    "since": "2026-11-20",
                    "reason": "override",
                    "kind": "override",
                    "as_of": "2026-11-20",
                    "reasons": None,
                    "policy_version": 0,
                    "detail": {
                        "reason_text": "Took over the Sunrise Logistics key account from Chen Jie.",
                        "by": _MANAGER,
                    },
                    "recorded_at": "2026-11-20T06:12:09Z",
                },
                {
                    "id": 4127,
                    "stage": "L1_SUBSISTENCE",
                    "previous_stage": "L2_COMFORTABLE",
                    "since": "2025-05-01",
                    "reason": "evaluation",
                    "kind": "confirmed",
                    "as_of": "2025-05-01",
                    "reasons": {"en": "No rule of L2 or L3 is met.", "zh": "未满足小康或富裕的任何规则。"},
                    "policy_version": 0,
                    "detail": {
                        "as_of": "2025-05-01",
                        "reasons": {"en": "No rule of L2 or L3 is met.", "zh": "未满足小康或富裕的任何规则。"},
                        "scheduled": True,
                    },
                    "recorded_at": "2025-05-01T01:00:02Z",
                },
                {
                    "id": 4101,
                    "stage": "L1_SUBSISTENCE",
                    "previous_stage": "L2_COMFORTABLE",
                    "since": "2025-04-17",
                    "reason": "evaluation",
                    "kind": "provisional",
                    "as_of": "2025-04-17",
                    "reasons": {"en": "No rule of L2 or L3 is met.", "zh": "未满足小康或富裕的任何规则。"},
                    "policy_version": 0,
                    "detail": {
                        "as_of": "2025-04-17",
                        "reasons": {"en": "No rule of L2 or L3 is met.", "zh": "未满足小康或富裕的任何规则。"},
                        "scheduled": False,
                    },
                    "recorded_at": "2025-04-17T09:41:27Z",
                },
            ]
        },
    )

    id: int
    stage: StageCode
    previous_stage: StageCode | None
    since: dt.date
    reason: Literal["evaluation", "override", "override_expired"]
    kind: HistoryKind = Field(
        description="`confirmed`: the evaluated stage changed (published as `employee.stage_changed` unless an "
        "override hides it); `provisional`: what evaluations compute moved, nothing published; `override`, "
        "`override_expired`: a manager's override set, removed or ended."
    )
    as_of: dt.date = Field(description="The business day of the evaluation or action.")
    reasons: Words | None = Field(None, description="Why the evaluation computed the stage (evaluations only).")
    policy_version: int
    detail: dict[str, Any]
    recorded_at: dt.datetime


class BatchGet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"employee_ids": [_EMPLOYEE, "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"]},
            ]
        },
    )

    employee_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


_SNAPSHOT: dict[str, Any] = {
    "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
    "stage": "L1_SUBSISTENCE",
    "stage_since": "2026-04-01",
    "capacity": 20,
    "open_load": 6,
    "needs": ["lacks_deals", "lacks_support"],
}


class StageSnapshotRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SNAPSHOT]})

    employee_id: uuid.UUID
    stage: StageCode | None = Field(description="null until the employee is first evaluated.")
    stage_since: dt.date | None
    capacity: int
    open_load: int = Field(description="Open opportunities owned today (from opportunity events).")
    needs: list[Need]


class BatchGetResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_SNAPSHOT],
                    "not_found": ["4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"],
                }
            ]
        }
    )

    items: list[StageSnapshotRead]
    not_found: list[uuid.UUID] = Field(description="Ids that do not exist or that you may not see.")
