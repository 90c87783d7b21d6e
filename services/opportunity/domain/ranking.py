"""Solution ranking for an opportunity (pure domain).

Evidence per solution: wins in similar accounts (same industry and size band)
and in the industry over the window, its smoothed win rate in the industry,
how its tags match the deal, and its popularity overall (which carries a new
industry or an L1 rep who needs "what sells").
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    solution_id: str
    name: str
    industries: tuple[str, ...]
    size_bands: tuple[str, ...]
    wins_similar: int = 0
    losses_similar: int = 0
    wins_industry: int = 0
    losses_industry: int = 0
    wins_all: int = 0
    losses_all: int = 0


@dataclass(frozen=True, slots=True)
class Ranked:
    candidate: Candidate
    score: float
    win_rate: float
    tag_match: float


WEIGHTS = {"similar": 1.0, "industry": 0.6, "popularity": 0.3, "win_rate": 1.0, "tags": 0.8}


def win_rate(c: Candidate) -> float:
    overall = (c.wins_all + 1) / (c.wins_all + c.losses_all + 2)
    return (c.wins_industry + 2 * overall) / (c.wins_industry + c.losses_industry + 2)


def tag_match(c: Candidate, *, industry: str | None, size_band: str | None) -> float:
    return 0.5 * (industry is not None and industry in c.industries) + 0.5 * (
        size_band is not None and size_band in c.size_bands
    )


def rank(candidates: list[Candidate], *, industry: str | None, size_band: str | None, k: int) -> list[Ranked]:
    out = []
    for c in candidates:
        rate, tags = win_rate(c), tag_match(c, industry=industry, size_band=size_band)
        score = (
            WEIGHTS["similar"] * math.log1p(c.wins_similar)
            + WEIGHTS["industry"] * math.log1p(c.wins_industry)
            + WEIGHTS["popularity"] * math.log1p(c.wins_all)
            + WEIGHTS["win_rate"] * rate
            + WEIGHTS["tags"] * tags
        )
        out.append(Ranked(c, round(score, 6), round(rate, 4), tags))
    out.sort(key=lambda r: (-r.score, r.candidate.name))
    return out[:k]
