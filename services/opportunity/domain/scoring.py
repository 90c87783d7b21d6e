"""Assignment scoring: each rep's chance to win each deal and the utility the
solver maximises (pure domain: numpy only, no FastAPI, no SQLAlchemy).

Win probability is a rep's own record, smoothed twice so a new rep is not
scored zero: the rep's overall rate shrinks towards the organisation's rate
(`prior_strength` pseudo-deals), and the rep's rate with the deal's industry,
size band and solutions shrinks towards the rep's overall rate
(`attribute_prior_strength`); the deal's estimate is the mean of the
attribute estimates it has.

Utility = win probability × deal value × (1 + continuity weight × on the
account's coverage team) × (1 − load weight × open load / capacity) × stage
rule (L3 reps shrink on deals that are neither large nor strategic).

Each rep's cap for one proposal (`caps`): their room, max(0, capacity − open
load), and for a rep with no closed deal of their own at most
`unproven_max_per_proposal` on top. A rep whose cap is 0 cannot take a deal
(utility −inf); `raw_utility` keeps what they would have scored, so an
explanation can say that the higher scorer lost for want of room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array

from services.opportunity.domain.policy import AssignmentPolicy

L1, L2, L3 = "L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"


@dataclass(frozen=True, slots=True)
class Rep:
    employee_id: str
    stage: str | None
    capacity: int
    open_load: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.open_load)


@dataclass(frozen=True, slots=True)
class Deal:
    opportunity_id: str
    amount: float | None
    industry: str | None = None
    size_band: str | None = None
    solution_ids: tuple[str, ...] = ()
    account_id: str | None = None
    strategic: bool = False


@dataclass(slots=True)
class History:
    """Closed (won or lost) deal counts per rep: `overall[rep] = (wins, closed)`,
    and the same per industry, size band and solution keyed `(rep, value)`."""

    overall: dict[str, tuple[int, int]] = field(default_factory=dict)
    industry: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    size_band: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    solution: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def org_rate(self, default: float = 0.3) -> float:
        wins = sum(w for w, _ in self.overall.values())
        closed = sum(n for _, n in self.overall.values())
        return wins / closed if closed else default


@dataclass(slots=True)
class Scores:
    win_probability: np.ndarray  # deals × reps
    utility: np.ndarray  # deals × reps, -inf where a rep cannot take the deal
    raw_utility: np.ndarray  # deals × reps, before the caps
    value: np.ndarray  # deals: the amount used (median for deals without one)
    continuity: np.ndarray  # deals × reps, 0/1
    load_ratio: np.ndarray  # reps
    stage_multiplier: np.ndarray  # deals × reps
    closed_deals: np.ndarray  # reps: how much history backs each estimate
    starter: np.ndarray  # deals, bool
    large: np.ndarray  # deals, bool


def _attribute_rates(
    counts: dict[tuple[str, str], tuple[int, int]],
    rep_index: dict[str, int],
    values: list[str],
    rep_rate: np.ndarray,
    strength: float,
) -> np.ndarray:
    """values × reps matrix of smoothed rates."""
    value_index = {v: i for i, v in enumerate(values)}
    wins = np.zeros((len(values), len(rep_index)))
    closed = np.zeros_like(wins)
    for (rep, value), (w, n) in counts.items():
        j, i = rep_index.get(rep), value_index.get(value)
        if j is not None and i is not None:
            wins[i, j], closed[i, j] = w, n
    return (
        (wins + strength * rep_rate[None, :]) / (closed + strength)
        if strength or closed.any()
        else np.broadcast_to(rep_rate, wins.shape).copy()
    )


def win_probabilities(
    deals: Sequence[Deal], reps: Sequence[Rep], history: History, policy: AssignmentPolicy
) -> tuple[np.ndarray, np.ndarray]:
    rep_index = {r.employee_id: j for j, r in enumerate(reps)}
    p0 = history.org_rate()
    rep_wins = np.array([history.overall.get(r.employee_id, (0, 0))[0] for r in reps], dtype=float)
    rep_closed = np.array([history.overall.get(r.employee_id, (0, 0))[1] for r in reps], dtype=float)
    a = policy.prior_strength
    rep_rate = (
        (rep_wins + a * p0) / (rep_closed + a)
        if a or rep_closed.all()
        else np.where(rep_closed > 0, rep_wins / np.maximum(rep_closed, 1), p0)
    )
    b = policy.attribute_prior_strength
    n, m = len(deals), len(reps)
    total = np.zeros((n, m), dtype=np.float32)
    count = np.zeros(n, dtype=np.float32)
    for attr, counts in (("industry", history.industry), ("size_band", history.size_band)):
        codes = [getattr(d, attr) for d in deals]
        values = sorted({c for c in codes if c is not None})
        if not values:
            continue
        rates = _attribute_rates(counts, rep_index, values, rep_rate, b).astype(np.float32)
        index = {v: i for i, v in enumerate(values)}
        # An extra row of zeros stands for "unknown", so one gather serves every deal.
        rates = np.vstack([rates, np.zeros((1, m), dtype=np.float32)])
        code = np.array([index[c] if c is not None else len(values) for c in codes])
        total += rates[code]
        count += code < len(values)
    solutions = sorted({s for d in deals for s in d.solution_ids})
    if solutions:
        rates = _attribute_rates(history.solution, rep_index, solutions, rep_rate, b).astype(np.float32)
        index = {s: i for i, s in enumerate(solutions)}
        rows = [i for i, d in enumerate(deals) for _ in d.solution_ids]
        cols = [index[s] for d in deals for s in d.solution_ids]
        weights = [1.0 / len(d.solution_ids) for d in deals for _ in d.solution_ids]
        # deals × solutions averaging matrix: one sparse product gives each deal's mean.
        mean = csr_array((np.array(weights, dtype=np.float32), (rows, cols)), shape=(n, len(solutions)))
        total += mean @ rates
        count += np.array([1.0 if d.solution_ids else 0.0 for d in deals], dtype=np.float32)
    no_attr = count == 0
    total[no_attr] = rep_rate[None, :].astype(np.float32)
    count[no_attr] = 1
    total /= count[:, None]
    return total, rep_closed


def score(
    deals: Sequence[Deal],
    reps: Sequence[Rep],
    history: History,
    policy: AssignmentPolicy,
    *,
    coverage: dict[str, set[str]] | None = None,
) -> Scores:
    """`coverage` maps an account id to its coverage team's employee ids; an
    account missing from it simply earns no continuity."""
    coverage = coverage or {}
    win_p, closed = win_probabilities(deals, reps, history, policy)
    amounts = np.array([d.amount if d.amount is not None else np.nan for d in deals], dtype=float)
    known = amounts[~np.isnan(amounts)]
    value = np.where(np.isnan(amounts), float(np.median(known)) if known.size else 1.0, amounts)
    rep_index = {r.employee_id: j for j, r in enumerate(reps)}
    continuity = np.zeros(win_p.shape, dtype=np.float32)
    for i, d in enumerate(deals):
        for member in coverage.get(d.account_id or "", ()):
            if (j := rep_index.get(member)) is not None:
                continuity[i, j] = 1.0
    capacity = np.array([max(r.capacity, 1) for r in reps], dtype=float)
    load_ratio = np.minimum(np.array([r.open_load for r in reps], dtype=float) / capacity, 1.0)
    large = np.array(
        [d.strategic or (d.amount is not None and d.amount >= float(policy.large_min_amount)) for d in deals],
        dtype=bool,
    )
    is_l3 = np.array([r.stage == L3 for r in reps], dtype=bool)
    stage_mult = np.ones(win_p.shape, dtype=np.float32)
    stage_mult[np.ix_(~large, is_l3)] = 1.0 - policy.l3_small_deal_penalty
    utility = (
        win_p
        * value[:, None].astype(np.float32)
        * (1.0 + policy.continuity_weight * continuity)
        * (1.0 - policy.load_weight * load_ratio[None, :]).astype(np.float32)
        * stage_mult
    )
    raw = utility.copy()
    utility[:, caps(reps, closed, policy) <= 0] = -np.inf
    deal_p = win_p.mean(axis=1) if win_p.shape[1] else np.zeros(len(deals))
    starter = (
        np.array([d.amount is None or d.amount < float(policy.starter_max_amount) for d in deals], dtype=bool)
        & (deal_p >= policy.starter_min_win_probability)
        & ~large
    )
    return Scores(win_p, utility, raw, value, continuity, load_ratio, stage_mult, closed, starter, large)


def caps(reps: Sequence[Rep], closed_deals: np.ndarray, policy: AssignmentPolicy) -> np.ndarray:
    """How many new deals each rep may get from one proposal: their room,
    max(0, capacity − open load); for a rep with no closed deal yet, at most
    `unproven_max_per_proposal` of it."""
    room = np.array([r.free for r in reps], dtype=np.int64)
    unproven = np.asarray(closed_deals) == 0
    return np.where(unproven, np.minimum(room, policy.unproven_max_per_proposal), room)
