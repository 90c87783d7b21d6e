import datetime as dt
import uuid
from typing import Annotated, Any, Literal

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
                "losses_overall": 52,
                "win_rate": 0.7681,
                "win_rate_level": "industry",
                "win_rate_deals": 40,
                "tag_match": 1.0,
                "last_win_month": "2026-10-01",
            },
            "explanation": [
                (
                    "win rate 0.77 in logistics: 31 won of 40 closed deal(s) since 2025-12-01, smoothed towards its "
                    "organisation-wide rate 0.73"
                ),
                "12 win(s) in accounts of the same industry and size band",
                "tagged for the deal's industry and size band",
            ],
        }
    ],
    "owner_stage": "L1_SUBSISTENCE",
}


class Evidence(BaseModel):
    wins_similar_accounts: int = Field(description="Wins in the window with the same industry and size band.")
    wins_industry: int
    losses_industry: int
    wins_overall: int
    losses_overall: int = Field(0, description="Losses in the window, organisation-wide.")
    win_rate: float = Field(
        description=(
            "Smoothed win rate: in the industry, towards the organisation-wide rate, towards the neutral prior 0.5."
        )
    )
    win_rate_level: Literal["industry", "organisation", "prior"] = Field(
        "prior",
        description=(
            "Where the win rate's evidence comes from: the deal's industry; the whole organisation when the industry "
            "has no closed deal with it in the window (or the deal has no industry); the neutral prior when nothing "
            "closed with it at all."
        ),
    )
    win_rate_deals: int = Field(0, description="How many closed (won or lost) deals of that level the rate rests on.")
    tag_match: float = Field(description="0, 0.5 or 1: the solution is tagged for the industry and/or size band.")
    last_win_month: dt.date | None


class Recommendation(BaseModel):
    solution_id: uuid.UUID
    name: str
    score: float
    evidence: Evidence
    explanation: list[str] = Field(default_factory=list, description="The evidence in plain words.")


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
    as_of: dt.date | None = Field(
        None, description="Evaluate as of this date (default: the business clock's today), 1900-01-01 to 2199-12-31."
    )
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
