import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.bulk import BulkUpsertRequest
from sanlun.kernel.types import Money, OrgUnitPath
from services.opportunity.domain.stages import Stage

Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
CompellingEvent = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
WinProbability = Annotated[
    Decimal,
    Field(ge=0, le=1, decimal_places=4, description="Chance of winning, 0 to 1 (at most 4 decimal places)."),
    # Same representation on POST as a later GET reads back from Numeric(5, 4).
    AfterValidator(lambda d: d.quantize(Decimal("0.0001"))),
]


Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
SizeBand = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]

_OPPORTUNITY = "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f"
_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_OWNER = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_MANAGER = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
_PRESALES = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
_SOLUTION = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"
_COMPELLING_EVENT = "The Hangzhou hub's storage lease ends in April 2027 and Double 11 volume doubled this year."

EXAMPLE: dict[str, Any] = {
    "id": _OPPORTUNITY,
    "external_id": "CRM-2026-00391",
    "account_id": _ACCOUNT,
    "name": "Sunrise Logistics - Hangzhou hub storage refresh",
    "amount": {"amount": "380000.00", "currency": "CNY"},
    "expected_close_date": "2026-12-15",
    "owner_id": _OWNER,
    "assigned_at": "2026-09-02T06:40:12Z",
    "org_unit_path": "/group/east/team-3",
    "source": "customer_referral",
    "compelling_event": _COMPELLING_EVENT,
    "stage": "won",
    "win_probability": "1.0000",
    "industry": "logistics",
    "size_band": "large",
    "solution_ids": [_SOLUTION],
    "team": [{"employee_id": _PRESALES, "role": "presales"}],
    "closed_on": "2026-11-20",
    "origin": {"type": "incubation_item", "id": "d2c1b0a9-8f7e-4d6c-9b5a-4f3e2d1c0b9a"},
    "created_at": "2026-09-02T06:40:12Z",
    "updated_at": "2026-11-20T09:05:44Z",
    "version": 9,
}

TeamRole = Literal[
    "solution_consultant",
    "presales",
    "executive_sponsor",
    "delivery",
    "partner",
    "overlay",
    "specialist",
]


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    employee_id: uuid.UUID
    role: TeamRole


Team = Annotated[list[TeamMemberIn], Field(max_length=50, description="Team members besides the owner, with roles.")]
SolutionIds = Annotated[list[uuid.UUID], Field(max_length=50, description="Solutions from the catalogue.")]


class Origin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["incubation_item"] = Field(description="What the opportunity was promoted from.")
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OpportunityFields(BaseModel):
    """What a new opportunity says, whether created one by one or imported."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    account_id: uuid.UUID | None = Field(None, description="The account in the key account service.")
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = Field(
        None, description="Owner. Omitted: you. Explicit null: unassigned (managers and admins only)."
    )
    org_unit_path: OrgUnitPath | None = Field(None, description="Omitted: your own org unit.")
    source: Source | None = None
    compelling_event: CompellingEvent | None = None
    stage: Stage = Stage.LEAD
    win_probability: WinProbability | None = None
    external_id: Annotated[str | None, StringConstraints(min_length=1, max_length=200)] = None
    industry: Industry | None = Field(None, description="The account's industry, for scoring and recommendation.")
    size_band: SizeBand | None = Field(None, description="The account's size band, e.g. `smb`, `mid`, `large`.")
    solution_ids: SolutionIds = []
    team: Team = []
    origin: Origin | None = None
    closed_on: dt.date | None = Field(None, description="Close date; required when created won or lost.")


class OpportunityCreate(OpportunityFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Sunrise Logistics - Hangzhou hub storage refresh",
                    "account_id": _ACCOUNT,
                    "amount": {"amount": "380000.00", "currency": "CNY"},
                    "expected_close_date": "2027-03-31",
                    "source": "customer_referral",
                    "compelling_event": _COMPELLING_EVENT,
                    "stage": "lead",
                    "win_probability": "0.3",
                    "industry": "logistics",
                    "size_band": "large",
                    "solution_ids": [_SOLUTION],
                    "team": [{"employee_id": _PRESALES, "role": "presales"}],
                },
                {
                    "name": "Ningbo Port Group - edge servers (signed before the CRM went live)",
                    "account_id": _ACCOUNT,
                    "amount": {"amount": "265000.00", "currency": "CNY"},
                    "stage": "won",
                    "closed_on": "2026-10-30",
                    "force": True,
                    "reason": "Signed in October before the deal was entered; the contract is on file.",
                },
            ]
        },
    )

    force: bool = Field(
        False,
        description=(
            "Managers: create it at `stage` despite unmet gate requirements (needs a reason), as for "
            "`POST .../stage`. A deal created beyond `lead` passes the same gates as moving a new lead there."
        ),
    )
    reason: Annotated[str | None, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] = None


class OpportunityUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": {"amount": "420000.00", "currency": "CNY"},
                    "expected_close_date": "2027-04-30",
                    "win_probability": "0.45",
                    "team": [
                        {"employee_id": _PRESALES, "role": "presales"},
                        {"employee_id": _MANAGER, "role": "executive_sponsor"},
                    ],
                }
            ]
        },
    )

    name: Name | None = None
    account_id: uuid.UUID | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = None
    source: Source | None = None
    compelling_event: CompellingEvent | None = None
    stage: Stage | None = Field(None, description="Moves through the stage gates (as `POST .../stage`, without force).")
    win_probability: WinProbability | None = None
    industry: Industry | None = None
    size_band: SizeBand | None = None
    solution_ids: SolutionIds | None = None
    team: Team | None = None


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    external_id: str | None
    account_id: uuid.UUID | None
    name: str
    amount: Money | None
    expected_close_date: dt.date | None
    owner_id: uuid.UUID | None
    assigned_at: dt.datetime | None = Field(None, description="When the current owner got it; null while unassigned.")
    org_unit_path: str
    source: str | None
    compelling_event: str | None
    stage: Stage
    win_probability: Decimal | None
    industry: str | None
    size_band: str | None
    solution_ids: list[uuid.UUID]
    team: list[TeamMemberIn]
    closed_on: dt.date | None
    origin: Origin | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class StageChangeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"stage": "proposal"},
                {"stage": "won", "closed_on": "2026-11-26"},
                {
                    "stage": "negotiation",
                    "force": True,
                    "reason": (
                        "The customer's CIO confirmed the budget in writing; "
                        "the decision maker will be added to the plan."
                    ),
                },
            ]
        },
    )

    stage: Stage
    closed_on: dt.date | None = Field(None, description="Close date, needed to close as won or lost.")
    force: bool = Field(False, description="Managers: move despite unmet gate requirements (needs a reason).")
    reason: Annotated[str | None, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] = None


class StageChangeRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1842,
                    "from_stage": "solution_design",
                    "to_stage": "proposal",
                    "changed_at": "2026-11-26T09:05:44Z",
                    "changed_by": _MANAGER,
                    "forced": True,
                    "reason": (
                        "The customer's CIO confirmed the budget in writing; "
                        "the decision maker will be added to the plan."
                    ),
                    "unmet": [{"stage": "proposal", "requirement": "decision_maker"}],
                }
            ]
        },
    )

    id: int
    from_stage: Stage | None
    to_stage: Stage
    changed_at: dt.datetime
    changed_by: str
    forced: bool
    reason: str | None
    unmet: list[dict] | None


class OpportunityImport(OpportunityFields):
    """One row of a bulk upsert: an opportunity as for create, keyed by its `external_id`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "CRM-2026-00417",
                    "name": "Ningbo Port Group - edge servers for the container yard",
                    "amount": {"amount": "265000.00", "currency": "CNY"},
                    "expected_close_date": "2027-02-28",
                    "stage": "qualified",
                    "industry": "logistics",
                    "size_band": "large",
                }
            ]
        },
    )

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OpportunityBulkUpsert(BulkUpsertRequest[OpportunityImport]):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "external_id": "CRM-2026-00417",
                            "name": "Ningbo Port Group - edge servers for the container yard",
                            "amount": {"amount": "265000.00", "currency": "CNY"},
                            "expected_close_date": "2027-02-28",
                            "stage": "qualified",
                            "industry": "logistics",
                            "size_band": "large",
                        },
                        {
                            "external_id": "CRM-2026-00418",
                            "name": "Suzhou Precision Parts - MES licence renewal",
                            "amount": {"amount": "88000.00", "currency": "CNY"},
                            "expected_close_date": "2026-12-20",
                            "stage": "negotiation",
                            "industry": "manufacturing",
                            "size_band": "mid",
                        },
                    ],
                    "dry_run": False,
                    "source": "maven-crm",
                }
            ]
        },
    )

    reopen_reason: Annotated[str | None, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] = (
        Field(
            None,
            description=(
                "Why closed deals (won, lost, abandoned) may be reopened by these rows: without it a row that would "
                "move a closed deal to another stage fails (`code: illegal_stage_transition`), whoever sends it. "
                "Managers and admins only, as for `POST .../stage` with force; recorded in the stage history."
            ),
        )
    )


def read_model(opportunity: object, team: list[object]) -> OpportunityRead:
    o = opportunity
    origin = {"type": o.origin_type, "id": o.origin_id} if o.origin_type else None  # type: ignore[attr-defined]
    fields = {name: getattr(o, name) for name in OpportunityRead.model_fields if name not in ("team", "origin")}
    return OpportunityRead.model_validate({**fields, "team": team, "origin": origin})
