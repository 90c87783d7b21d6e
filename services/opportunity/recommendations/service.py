"""Solution recommendation for one or many opportunities: the roll-up is read
once per (industry, size band) and the catalogue once per call."""

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from sanlun.kernel.peers import PEER_ERRORS, Peers, failure_reason, ok_json
from services.opportunity.domain import ranking
from services.opportunity.recommendations import repository
from services.opportunity.recommendations.schemas import Evidence, Recommendation, Recommendations
from services.opportunity.solutions.repository import catalogues


def window(as_of: dt.date, window_months: int) -> tuple[dt.date, dt.date]:
    """`window_months` calendar months up to `as_of` (its own month included, up to that day)."""
    until = as_of
    index = until.year * 12 + until.month - 1 - (window_months - 1)
    since = dt.date(index // 12, index % 12 + 1, 1)
    return since, until


async def recommend(
    conn: asyncpg.Connection,
    opportunities: Sequence[Mapping[str, Any]],
    *,
    k: int,
    as_of: dt.date,
    window_months: int,
) -> list[Recommendations]:
    """Evidence from `window_months` months up to `as_of` (the caller's
    default is the business clock's today, so a shifted or simulated clock
    finds its history). `opportunities` are read rows
    (`opportunities.reads.read_row`); four statements whatever their number.
    Each deal is recommended only what its organisation may use: the active
    solutions of its organisation's catalogue and the group's."""
    since, until = window(as_of, window_months)
    solutions = await repository.active_solutions(conn, {o["org_unit_path"] for o in opportunities})
    counts = await repository.outcome_counts(
        conn, list(dict.fromkeys((o["industry"], o["size_band"]) for o in opportunities)), since=since, until=until
    )
    stages = await repository.owner_stages(
        conn, list(dict.fromkeys(o["owner_id"] for o in opportunities if o["owner_id"]))
    )
    return [
        Recommendations(
            opportunity_id=o["id"],
            window={"since": since, "until": until},
            items=_ranked(
                o, _usable(solutions, o["org_unit_path"]), counts[(o["industry"], o["size_band"])], k, since=since
            ),
            owner_stage=stages.get(o["owner_id"]) if o["owner_id"] else None,
        )
        for o in opportunities
    ]


def _usable(solutions: Sequence[Mapping[str, Any]], org_unit_path: str) -> list[Mapping[str, Any]]:
    """Those of `solutions` a deal in `org_unit_path` may use."""
    mine = set(catalogues(org_unit_path))
    return [s for s in solutions if s["organization_path"] in mine]


def _ranked(
    o: Mapping[str, Any],
    solutions: Sequence[Mapping[str, Any]],
    counts: Mapping[uuid.UUID, Any],
    k: int,
    *,
    since: dt.date,
) -> list[Recommendation]:
    attached = set(o["solution_ids"] or [])
    candidates, last_win = [], {}
    for s in solutions:
        if s["id"] in attached:
            continue
        c = counts.get(s["id"])
        last_win[str(s["id"])] = c["last_win_month"] if c else None
        candidates.append(
            ranking.Candidate(
                solution_id=str(s["id"]),
                name=s["name"],
                industries=tuple(s["industries"] or ()),
                size_bands=tuple(s["size_bands"] or ()),
                **(
                    {}
                    if c is None
                    else {
                        "wins_similar": int(c["wins_similar"]),
                        "losses_similar": int(c["losses_similar"]),
                        "wins_industry": int(c["wins_industry"]),
                        "losses_industry": int(c["losses_industry"]),
                        "wins_all": int(c["wins_all"]),
                        "losses_all": int(c["losses_all"]),
                    }
                ),
            )
        )
    return [
        Recommendation(
            solution_id=r.candidate.solution_id,
            name=r.candidate.name,
            score=r.score,
            evidence=Evidence(
                wins_similar_accounts=r.candidate.wins_similar,
                wins_industry=r.candidate.wins_industry,
                losses_industry=r.candidate.losses_industry,
                wins_overall=r.candidate.wins_all,
                losses_overall=r.candidate.losses_all,
                win_rate=r.win_rate,
                win_rate_level=r.level,
                win_rate_deals=r.basis,
                tag_match=r.tag_match,
                last_win_month=last_win.get(r.candidate.solution_id),
            ),
            explanation=ranking.explain(r, industry=o["industry"], since=since.isoformat()),
        )
        for r in ranking.rank(candidates, industry=o["industry"], size_band=o["size_band"], k=k)
    ]


async def resources(peers: Peers, *, industry: str | None, solution_id: str | None) -> dict[str, Any]:
    """Reference cases and experts from resource sharing, for an L1 owner; when
    it cannot answer, `available: false` and why, instead of a failed page."""
    params = {
        "limit": 5,
        **({"industry": industry} if industry else {}),
        **({"solution": solution_id} if solution_id else {}),
    }

    async def fetch(kind: str) -> list[Any]:
        response = await peers.get("resource_share", "/api/v1/resources", params={"type": kind, **params})
        return list(ok_json("resource_share", response).get("items", []))

    try:
        cases, experts = await asyncio.gather(fetch("reference_case"), fetch("expert"))
    except (*PEER_ERRORS, ValueError, AttributeError) as exc:
        return {"available": False, "reason": f"resource_share: {failure_reason(exc)}"}
    return {"available": True, "reference_cases": cases, "experts": experts}
