import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.bulk import BulkRowResult, BulkUpsertReport, BulkUpsertRequest
from sanlun.kernel.types import Money, OrgUnitPath
from services.key_account.segmentation.schemas import (
    SEGMENTATION_EXAMPLE,
    SegmentationRead,
)

__all__ = ["Money", "OrgUnitPath"]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Headquarters = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Headcount = Annotated[int, Field(ge=0, le=100_000_000, description="Number of employees of the customer.")]
Assessment = Annotated[int, Field(ge=0, le=100, description="An account manager's assessment, 0-100.")]

_PARENT = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
_CREATE: dict[str, Any] = {
    "name": "Zhejiang Sunrise Logistics",
    "industry": "logistics",
    "annual_revenue": {"amount": "3200000000.00", "currency": "CNY"},
    "employees": 8600,
    "headquarters": "Hangzhou, Zhejiang",
    "parent_id": _PARENT,
    "owner_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "org_unit_path": "/group/east/team-3",
    "external_id": "ERP-C-00391",
    "potential": 80,
    "strategic_value": 70,
    "solution_fit": 65,
}
EXAMPLE: dict[str, Any] = {
    "id": "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c",
    **_CREATE,
    "tier": "strategic",
    "segmentation": SEGMENTATION_EXAMPLE,
    "created_at": "2026-02-10T03:00:00Z",
    "updated_at": "2026-11-25T02:00:00Z",
    "version": 7,
    "access": "deal",
}

Access = Literal["owner", "coverage", "org", "deal"]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CREATE]})

    name: Name
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = Field(None, description="Parent account in the subsidiary hierarchy.")
    owner_id: uuid.UUID | None = Field(None, description="Employee who owns the account. Omitted: you; `null`: nobody.")
    org_unit_path: OrgUnitPath | None = Field(None, description="Owning org unit. Omitted: yours.")
    external_id: ExternalId | None = None
    potential: Assessment | None = None
    strategic_value: Assessment | None = None
    solution_fit: Assessment | None = None


class AccountUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"employees": 9100, "potential": 85, "annual_revenue": {"amount": "3450000000.00", "currency": "CNY"}},
            ]
        },
    )

    name: Name | None = None
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = None
    external_id: ExternalId | None = None
    potential: Assessment | None = None
    strategic_value: Assessment | None = None
    solution_fit: Assessment | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    external_id: str | None
    name: str
    industry: str | None
    annual_revenue: Money | None
    employees: int | None
    headquarters: str | None
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    org_unit_path: str
    potential: int | None
    strategic_value: int | None
    solution_fit: int | None
    tier: str | None = Field(description="Effective tier: the override when there is one, else the policy's.")
    segmentation: SegmentationRead | None = Field(description="Score, reasons and override behind the tier.")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    access: Access | None = Field(
        None,
        description="Why you see the account (on reads): `owner`; `coverage` (you are on its current team); "
        "`org` (your role over its org unit or above its team); `deal` (read-only: through an opportunity you, "
        "or someone under you, own or are on the team of; the account and its contacts, no changes).",
    )


class ShareResync(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"pages": 3, "listed": 1204, "applied": 1190, "removed": 4, "opportunities": 1204, "shares": 2377}
            ]
        }
    )

    pages: int = Field(description="Pages read from the opportunity service.")
    listed: int = Field(description="Opportunities it listed.")
    applied: int = Field(
        description="Of those, how many were written (the others were older than what events had brought)."
    )
    removed: int = Field(description="Opportunities known here that it no longer lists, dropped with their shares.")
    opportunities: int = Field(description="Opportunities known here after the resync.")
    shares: int = Field(description="Shares (employee, opportunity, owner or team) after the resync.")


class AccountImport(BaseModel):
    """One row of a bulk upsert, matched by `external_id`; the parent by its
    external id. Documents the row: the service checks each row itself, so a
    bad value fails its row with a stable `code`, and a misspelt sector is
    normalised with a warning."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "ERP-C-00418",
                    "name": "Ningbo Port Cold Chain",
                    "industry": "logistics",
                    "parent_external_id": "ERP-C-00417",
                    "employees": 1300,
                    "headquarters": "Ningbo, Zhejiang",
                    "org_unit_path": "/group/east/team-3",
                }
            ]
        },
    )

    external_id: ExternalId
    name: Name
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_external_id: ExternalId | None = Field(None, description="The parent account, in this batch or stored.")
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = Field(None, description="Owning org unit. Omitted: the stored one, else yours.")
    potential: Assessment | None = None
    strategic_value: Assessment | None = None
    solution_fit: Assessment | None = None


class AccountBulkUpsert(BulkUpsertRequest[AccountImport]):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "external_id": "ERP-C-00417",
                            "name": "Ningbo Port Group",
                            "industry": "logistics",
                            "annual_revenue": {"amount": "26800000000.00", "currency": "CNY"},
                            "employees": 21500,
                            "headquarters": "Ningbo, Zhejiang",
                            "org_unit_path": "/group/east",
                            "potential": 85,
                            "strategic_value": 90,
                        },
                        {
                            "external_id": "ERP-C-00418",
                            "name": "Ningbo Port Cold Chain",
                            "industry": "Logisitcs",
                            "parent_external_id": "ERP-C-00417",
                            "employees": 1300,
                            "headquarters": "Ningbo, Zhejiang",
                            "org_unit_path": "/group/east/team-3",
                        },
                    ],
                    "dry_run": True,
                }
            ]
        },
    )


class AccountRowResult(BulkRowResult):
    """The contract's row, plus where the account landed: its parent and tier."""

    parent_id: uuid.UUID | None = None
    tier: str | None = None
    tier_score: Decimal | None = None
    tier_reasons: list[dict[str, Any]] = Field(default_factory=list)


class AccountBulkReport(BulkUpsertReport[AccountRowResult]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dry_run": True,
                    "created": 2,
                    "updated": 0,
                    "unchanged": 0,
                    "failed": 0,
                    "results": [
                        {
                            "index": 0,
                            "external_id": "ERP-C-00417",
                            "status": "created",
                            "id": None,
                            "errors": [],
                            "warnings": [],
                            "parent_id": None,
                            "tier": None,
                            "tier_score": None,
                            "tier_reasons": [],
                        },
                        {
                            "index": 1,
                            "external_id": "ERP-C-00418",
                            "status": "created",
                            "id": None,
                            "errors": [],
                            "warnings": [
                                {
                                    "loc": ["body", "items", 1, "industry"],
                                    "code": "normalised",
                                    "msg": "sector 'Logisitcs' normalised to 'logistics' (closest known sector)",
                                },
                            ],
                            "parent_id": None,
                            "tier": None,
                            "tier_score": None,
                            "tier_reasons": [],
                        },
                    ],
                },
                {
                    "dry_run": False,
                    "created": 1,
                    "updated": 0,
                    "unchanged": 0,
                    "failed": 1,
                    "results": [
                        {
                            "index": 0,
                            "external_id": "ERP-C-00417",
                            "status": "created",
                            "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                            "parent_id": None,
                            "tier": "strategic",
                            "tier_score": "86.61",
                            "tier_reasons": [
                                {
                                    "factor": "revenue",
                                    "known": True,
                                    "score": 85.7,
                                    "weight": 0.4,
                                    "contribution": 34.28,
                                    "note": "revenue 26,800,000,000 CNY on a log scale 10,000,000-100,000,000,000",
                                },
                                {
                                    "factor": "potential",
                                    "known": True,
                                    "score": 85.0,
                                    "weight": 0.3333,
                                    "contribution": 28.33,
                                    "note": "potential assessed at 85",
                                },
                                {
                                    "factor": "strategic_value",
                                    "known": True,
                                    "score": 90.0,
                                    "weight": 0.2667,
                                    "contribution": 24.0,
                                    "note": "strategic value assessed at 90",
                                },
                                {
                                    "factor": "relationship",
                                    "known": False,
                                    "score": None,
                                    "weight": 0.0,
                                    "contribution": 0.0,
                                    "note": "no relationships recorded",
                                },
                                {
                                    "factor": "solution_fit",
                                    "known": False,
                                    "score": None,
                                    "weight": 0.0,
                                    "contribution": 0.0,
                                    "note": "solution fit not assessed",
                                },
                            ],
                            "errors": [],
                            "warnings": [],
                        },
                        {
                            "index": 1,
                            "external_id": "ERP-C-00418",
                            "status": "failed",
                            "id": None,
                            "errors": [
                                {
                                    "loc": ["body", "items", 1, "employees"],
                                    "msg": "'13k' is not an integer",
                                    "code": "type",
                                },
                            ],
                            "warnings": [],
                            "parent_id": None,
                            "tier": None,
                            "tier_score": None,
                            "tier_reasons": [],
                        },
                    ],
                },
            ]
        }
    )


class AccountBatchGet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"account_ids": [EXAMPLE["id"], "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"]}]},
    )

    account_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


class AccountBatchGetResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [EXAMPLE], "not_found": ["4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"]}]}
    )

    items: list[AccountRead] = Field(description="The accounts you may read, in the order asked.")
    not_found: list[uuid.UUID] = Field(description="Ids that do not exist or that you may not read.")
