"""Solution ranking for an opportunity (pure domain).

Evidence per solution: wins in similar accounts (same industry and size band)
and in the industry over the window, its smoothed win rate in the industry,
how its tags match the deal, and its popularity overall (which carries a new
industry or an L1 rep who needs "what sells").

The win rate falls back honestly: the solution's rate in the deal's industry,
smoothed towards its organisation-wide rate, which is smoothed towards the
neutral prior 0.5. `level` names the most specific level that had closed
deals (`industry`, `organisation` or `prior`) and `basis` how many closed deals
the rate rests on, so an explanation can say where the number comes from.
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
    level: str = "prior"
    basis: int = 0


INDUSTRY, ORGANISATION, PRIOR = "industry", "organisation", "prior"


WEIGHTS = {"similar": 1.0, "industry": 0.6, "popularity": 0.3, "win_rate": 1.0, "tags": 0.8}


def win_rate(c: Candidate) -> float:
    overall = organisation_rate(c)
    return (c.wins_industry + 2 * overall) / (c.wins_industry + c.losses_industry + 2)


def organisation_rate(c: Candidate) -> float:
    return (c.wins_all + 1) / (c.wins_all + c.losses_all + 2)


def evidence_level(c: Candidate, *, industry: str | None) -> tuple[str, int]:
    """The most specific level with closed deals, and how many it has."""
    if industry is not None and c.wins_industry + c.losses_industry:
        return INDUSTRY, c.wins_industry + c.losses_industry
    if c.wins_all + c.losses_all:
        return ORGANISATION, c.wins_all + c.losses_all
    return PRIOR, 0


def explain(r: Ranked, *, industry: str | None, since: str) -> list[str]:
    """Plain words for one ranked solution: where its win rate comes from and what else moved it."""
    c = r.candidate
    out: list[str] = []
    if r.level == INDUSTRY:
        out.append(
            f"win rate {r.win_rate:.2f} in {industry}: {c.wins_industry} won of {r.basis} closed deal(s) since "
            f"{since}, smoothed towards its organisation-wide rate {organisation_rate(c):.2f}"
        )
    elif r.level == ORGANISATION:
        where = f"no closed deal in {industry} since {since}; " if industry else "industry unknown; "
        out.append(f"{where}win rate {r.win_rate:.2f} organisation-wide: {c.wins_all} won of {r.basis} closed deal(s)")
    else:
        out.append(f"no closed deal with this solution since {since}: neutral prior {r.win_rate:.2f}, no evidence")
    if c.wins_similar:
        out.append(f"{c.wins_similar} win(s) in accounts of the same industry and size band")
    if r.tag_match:
        out.append("tagged for the deal's industry and size band" if r.tag_match == 1 else "tagged for the deal")
    return out


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
        level, basis = evidence_level(c, industry=industry)
        out.append(Ranked(c, round(score, 6), round(rate, 4), tags, level, basis))
    # Equal scores: the one with more evidence first, then by name.
    out.sort(key=lambda r: (-r.score, -r.basis, r.candidate.name))
    return out[:k]
