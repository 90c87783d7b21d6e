"""The batch optimiser (pure domain: numpy + scipy).

Maximise the batch's total utility subject to each rep's free capacity,
as a min-weight bipartite matching (scipy's LAPJVsp on a sparse graph): a rep
with free capacity c becomes c identical slot columns, each deal keeps its
top-K candidates, and each deal has a private "unassigned" column so a full
matching always exists (a deal stays unassigned only when no candidate has
room or none is worth anything).

The L1 protected share is a reservation solved first: the winnable starter
deals are matched to L1 reps alone, and the best `ceil(share × starters)` of
those pairs are fixed before the whole batch is solved with what capacity
remains. When L1 capacity is short the share falls short, and the result says
by how much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

UNASSIGNED = -1


@dataclass(slots=True)
class Solution:
    owner: np.ndarray  # per deal: rep index or UNASSIGNED
    runner_up: np.ndarray  # per deal: best other candidate or UNASSIGNED
    protected: np.ndarray  # per deal: fixed by the L1 reservation
    starters: int
    l1_starter_target: int
    l1_starters_given: int


def spread_candidates(utility: np.ndarray, free: np.ndarray, k: int) -> np.ndarray:
    """Candidate reps per deal: its own top picks plus a window of reps around
    its rank-matched slot.

    Ranking by raw utility alone sends every deal to the same few strong reps,
    whose capacity is soon gone, and the solver could then place only a few
    hundred deals. So deals are ranked by their best utility and capacity
    slots by their rep's mean utility, the i-th deal is paired with the i-th
    slot (a feasible, rearrangement-style assignment), and the reps in a
    window around that slot join the deal's candidates. The exact matching
    then optimises over lists that are known to cover a full assignment."""
    n, m = utility.shape
    room = np.maximum(free, 0).astype(np.int64)
    if n == 0 or m == 0 or room.sum() == 0:
        return top_candidates(utility, k)
    finite = np.where(np.isfinite(utility), utility, 0.0)
    rep_order = np.argsort(-finite.mean(axis=0), kind="stable")
    rep_order = rep_order[room[rep_order] > 0]
    slot_rep = np.repeat(rep_order, room[rep_order])
    deal_rank = np.empty(n, dtype=np.int64)
    deal_rank[np.argsort(-finite.max(axis=1), kind="stable")] = np.arange(n)
    step = max(1, round(slot_rep.size / max(rep_order.size, 1)))
    offsets = np.arange(-(k // 2), k - k // 2) * step
    positions = np.clip(deal_rank[:, None] + offsets[None, :], 0, slot_rep.size - 1)
    window = slot_rep[positions]
    raw = top_candidates(utility, max(1, k // 2))
    return np.concatenate([raw, window], axis=1)


def top_candidates(utility: np.ndarray, k: int) -> np.ndarray:
    """deals × k rep indices, best first (a row may end in -inf entries)."""
    n, m = utility.shape
    k = min(k, m)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    part = np.argpartition(-utility, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    order = np.argsort(-np.take_along_axis(utility, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def match(utility: np.ndarray, candidates: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Best assignment of the rows to candidate columns within `free` slots."""
    n, k = candidates.shape
    owner = np.full(n, UNASSIGNED, dtype=np.int64)
    if n == 0 or k == 0:
        return owner
    rows = np.repeat(np.arange(n), k)
    reps = candidates.ravel()
    # A rep listed twice for a deal (raw and priced lists) is one edge.
    pairs = np.unique(rows * (free.size + 1) + reps)
    rows, reps = pairs // (free.size + 1), pairs % (free.size + 1)
    util = utility[rows, reps].astype(np.float64)
    usable = np.isfinite(util) & (util > 0) & (free[reps] > 0)
    rows, reps, util = rows[usable], reps[usable], util[usable]
    if rows.size == 0:
        return owner
    # A rep needs no more slots than the deals that could go to it.
    demand = np.bincount(reps, minlength=free.size)
    slots = np.minimum(free, demand)
    slot_start = np.concatenate([[0], np.cumsum(slots)[:-1]])
    per_edge = slots[reps]
    edge_rows = np.repeat(rows, per_edge)
    offsets = np.arange(per_edge.sum()) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    edge_cols = np.repeat(slot_start[reps], per_edge) + offsets
    # Costs stay strictly positive (a stored zero is "no edge"); an edge beats
    # leaving the deal unassigned exactly when its utility is positive.
    top = util.max()
    edge_cost = 1.0 + 1e-9 - np.repeat(util, per_edge) / top
    n_slots = int(slots.sum())
    graph = csr_array(
        (
            np.concatenate([edge_cost, np.full(n, 1.0 + 1e-9)]),
            (np.concatenate([edge_rows, np.arange(n)]), np.concatenate([edge_cols, n_slots + np.arange(n)])),
        ),
        shape=(n, n_slots + n),
    )
    _, cols = min_weight_full_bipartite_matching(graph)
    slot_owner = np.repeat(np.arange(free.size), slots)
    real = cols < n_slots
    owner[real] = slot_owner[cols[real]]
    return owner


def solve(
    utility: np.ndarray,
    free: np.ndarray,
    *,
    is_l1: np.ndarray,
    starter: np.ndarray,
    l1_share: float,
    k: int,
    raw: np.ndarray | None = None,
) -> Solution:
    """`free` is each rep's cap for this batch; `raw` (the utility before the
    caps) picks the runner-up, so a higher scorer without room is named."""
    n, _ = utility.shape
    free = free.astype(np.int64).copy()
    owner = np.full(n, UNASSIGNED, dtype=np.int64)
    protected = np.zeros(n, dtype=bool)
    starter_rows = np.flatnonzero(starter)
    target = math.ceil(l1_share * starter_rows.size) if l1_share > 0 else 0
    given = 0
    if target and is_l1.any():
        l1_cols = np.flatnonzero(is_l1)
        sub = utility[np.ix_(starter_rows, l1_cols)]
        sub_owner = match(sub, spread_candidates(sub, free[l1_cols], k), free[l1_cols])
        chosen = np.flatnonzero(sub_owner != UNASSIGNED)
        # Keep the most valuable reserved pairs; the rest compete in the open round.
        chosen = chosen[np.argsort(-sub[chosen, sub_owner[chosen]], kind="stable")][:target]
        rows, cols = starter_rows[chosen], l1_cols[sub_owner[chosen]]
        owner[rows] = cols
        protected[rows] = True
        np.subtract.at(free, cols, 1)
        given = chosen.size
    rest = np.flatnonzero(owner == UNASSIGNED)
    if rest.size:
        sub = utility[rest]
        owner[rest] = match(sub, spread_candidates(sub, free, k), free)
        # Deals the candidate lists could not place get one more round over
        # the reps that still have room.
        left = rest[owner[rest] == UNASSIGNED]
        room = free.copy()
        np.subtract.at(room, owner[rest][owner[rest] != UNASSIGNED], 1)
        if left.size and (room > 0).any():
            sub = np.where(room[None, :] > 0, utility[left], -np.inf)
            owner[left] = match(sub, spread_candidates(sub, room, k), room)
    given = int((starter & (owner != UNASSIGNED) & is_l1[np.maximum(owner, 0)]).sum())
    return Solution(
        owner, runner_up(utility if raw is None else raw, owner, k), protected, int(starter_rows.size), target, given
    )


def runner_up(utility: np.ndarray, owner: np.ndarray, k: int) -> np.ndarray:
    cands = top_candidates(utility, min(k, 2 + 1))
    out = np.full(owner.size, UNASSIGNED, dtype=np.int64)
    for col in range(cands.shape[1]):
        pick = (
            (out == UNASSIGNED) & (cands[:, col] != owner) & np.isfinite(utility[np.arange(owner.size), cands[:, col]])
        )
        out[pick] = cands[pick, col]
    return out
