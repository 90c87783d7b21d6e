import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

_EXAMPLE: dict[str, Any] = {
    "opportunity_id": "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f",
    "window": {"since": "2025-12-01", "until": "2026-11-27"},
    "items": [
        {
            "solution_id": "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968",
            "name": "GTX Pro storage array",
            "score": 4.182,
            "evidence": {
                "wins_similar_accounts": 12,
                "wins_industry": 31,
                "losses_industry": 9,
                "wins_overall": 140,
                "win_rate": 0.7681,
                "tag_match": 1.0,
                "last_win_month": "2026-10-01",
            },
        }
    ],
    "owner_stage": "L1_SUBSISTENCE",
}


class Evidence(BaseModel):
    wins_similar_accounts: int = Field(description="Wins in the window with the same industry and size band.")
    wins_industry: int
    losses_industry: int
    wins_overall: int
    win_rate: float = Field(description="Smoothed win rate in the industry (overall rate as the prior).")
    tag_match: float = Field(description="0, 0.5 or 1: the solution is tagged for the industry and/or size band.")
    last_win_month: dt.date | None


class Recommendation(BaseModel):
    solution_id: uuid.UUID
    name: str
    score: float
    evidence: Evidence


class Recommendations(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    opportunity_id: uuid.UUID
    window: dict[str, dt.date]
    items: list[Recommendation]
    owner_stage: str | None = Field(description="The owner's last stage seen; L1 owners also get resources.")
    resources: dict[str, Any] | None = Field(None, description="Reference cases and experts (L1 owners only).")


class BatchRecommendationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "opportunity_ids": ["2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f", "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"],
                    "k": 3,
                }
            ]
        },
    )

    opportunity_ids: Annotated[
        list[uuid.UUID], Field(min_length=1, max_length=50, description="Up to 50 opportunities.")
    ]
    k: Annotated[int, Field(ge=1, le=20, description="How many solutions per opportunity.")] = 3
    as_of: dt.date | None = Field(None, description="Evaluate as of this date (default today).")
    window_months: Annotated[int, Field(ge=1, le=60, description="History window in months.")] = 12


class BatchRecommendations(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_EXAMPLE],
                    "not_found": ["5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"],
                }
            ]
        }
    )

    items: list[Recommendations] = Field(description="In the order asked, without resources.")
    not_found: list[uuid.UUID] = Field(description="Ids that are unknown or that you may not see.")
