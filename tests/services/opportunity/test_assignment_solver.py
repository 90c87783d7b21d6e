import numpy as np

from services.opportunity.domain.policy import AssignmentPolicy
from services.opportunity.domain.scoring import L1, L2, L3, Deal, History, Rep, score
from services.opportunity.domain.solver import UNASSIGNED, match, solve, top_candidates


def test_match_is_optimal_on_a_small_case_and_respects_capacity():
    utility = np.array([[3.0, 1.0], [2.0, 1.0], [1.0, 5.0]])
    # Rep 0 has one slot: deal 0 (3) beats deal 1 (2); deal 2 goes to rep 1.
    assert match(utility, top_candidates(utility, 2), np.array([1, 1])).tolist() == [0, UNASSIGNED, 1]
    assert match(utility, top_candidates(utility, 2), np.array([2, 1])).tolist() == [0, 0, 1]


def test_capacity_is_never_exceeded_and_the_batch_is_filled():
    rng = np.random.default_rng(7)
    n, m = 800, 60
    quality = rng.random(m)
    utility = (rng.lognormal(10, 1, n)[:, None] * quality[None, :] * rng.uniform(0.5, 1.5, (n, m))).astype(np.float32)
    free = rng.integers(0, 9, m)
    sol = solve(utility, free, is_l1=np.zeros(m, bool), starter=np.zeros(n, bool), l1_share=0, k=10)
    counts = np.bincount(sol.owner[sol.owner != UNASSIGNED], minlength=m)
    assert (counts <= free).all()
    # Every slot is worth filling (utility > 0), so all of them are used.
    assert counts.sum() == min(n, free.sum())
    # Close to the exact optimum (slot-expanded Hungarian on the same utility).
    from scipy.optimize import linear_sum_assignment

    cols = np.repeat(np.arange(m), free)
    r, c = linear_sum_assignment(-utility[:, cols])
    best = utility[:, cols][r, c].sum()
    ours = utility[np.arange(n), sol.owner][sol.owner != UNASSIGNED].sum()
    assert ours >= 0.97 * best


def test_l1_protected_share_is_honoured_when_greedy_value_would_not():
    n = 10
    # L2 reps (0, 1) are better at everything; L1 reps (2, 3) would get nothing.
    utility = np.tile(np.array([10.0, 9.0, 1.0, 1.0], dtype=np.float32), (n, 1))
    starter = np.array([True] * 6 + [False] * 4)
    is_l1 = np.array([False, False, True, True])
    free = np.array([5, 5, 5, 5])
    plain = solve(utility, free, is_l1=is_l1, starter=starter, l1_share=0.0, k=4)
    assert plain.l1_starters_given == 0
    sol = solve(utility, free, is_l1=is_l1, starter=starter, l1_share=0.5, k=4)
    assert sol.l1_starter_target == 3
    assert sol.l1_starters_given == 3
    assert is_l1[sol.owner[sol.protected]].all() and starter[sol.protected].all()


def test_l1_share_falls_short_only_for_want_of_capacity():
    utility = np.ones((6, 2), dtype=np.float32)
    sol = solve(utility, np.array([6, 1]), is_l1=np.array([False, True]), starter=np.ones(6, bool), l1_share=1.0, k=2)
    assert sol.l1_starter_target == 6 and sol.l1_starters_given == 1


def test_smoothing_scores_a_new_rep_above_zero_and_history_counts():
    reps = [Rep("veteran", L2, 10, 0), Rep("new", L1, 10, 0), Rep("loser", L2, 10, 0)]
    history = History(overall={"veteran": (40, 50), "loser": (1, 50)}, industry={("veteran", "bank"): (20, 20)})
    s = score([Deal("d", 1000.0, industry="bank")], reps, history, AssignmentPolicy())
    p = s.win_probability[0]
    assert p[0] > p[1] > p[2] > 0
    assert abs(p[1] - history.org_rate()) < 1e-6


def test_l3_kept_for_large_deals_and_full_reps_excluded():
    policy = AssignmentPolicy(large_min_amount=100000, l3_small_deal_penalty=0.5)
    reps = [Rep("l3", L3, 5, 0), Rep("l2", L2, 5, 0), Rep("full", L2, 2, 2)]
    history = History(overall={"l3": (10, 20), "l2": (10, 20), "full": (10, 20)})
    s = score([Deal("small", 1000.0), Deal("big", 500000.0)], reps, history, policy)
    assert s.utility[0, 0] == s.utility[0, 1] * 0.5
    assert s.utility[1, 0] == s.utility[1, 1]
    assert np.isneginf(s.utility[:, 2]).all()


def test_continuity_and_load_move_the_utility():
    policy = AssignmentPolicy(continuity_weight=0.5, load_weight=0.5)
    reps = [Rep("a", L2, 10, 0), Rep("b", L2, 10, 5)]
    history = History(overall={"a": (5, 10), "b": (5, 10)})
    s = score([Deal("d", 100.0, account_id="acc")], reps, history, policy, coverage={"acc": {"b"}})
    assert s.continuity[0].tolist() == [0.0, 1.0]
    # b: ×1.5 for continuity, ×0.75 for half load.
    assert abs(s.utility[0, 1] / s.utility[0, 0] - 1.5 * 0.75) < 1e-5


def test_caps_are_room_and_a_ramp_for_reps_without_a_closed_deal():
    from services.opportunity.domain.scoring import caps

    reps = [Rep("new", L1, 80, 9), Rep("veteran", L2, 80, 9), Rep("full", L2, 12, 12), Rep("over", L2, 5, 7)]
    closed = np.array([0, 40, 30, 0])
    assert caps(reps, closed, AssignmentPolicy()).tolist() == [10, 71, 0, 0]
    assert caps(reps, closed, AssignmentPolicy(unproven_max_per_proposal=0)).tolist() == [0, 71, 0, 0]
    # A rep without a cap scores (raw) but cannot be chosen.
    s = score([Deal("d", 1000.0)], reps, History(overall={"veteran": (20, 40), "full": (25, 30)}), AssignmentPolicy())
    assert np.isneginf(s.utility[0, 2]) and np.isfinite(s.raw_utility[0, 2])


def test_the_runner_up_is_the_best_raw_scorer_and_the_explanation_says_why_they_lost():
    from services.opportunity.domain.explain import RunnerUp, runner_up_lost

    raw = np.array([[0.81, 0.5]], dtype=np.float32)
    utility = np.array([[-np.inf, 0.5]], dtype=np.float32)
    sol = solve(utility, np.array([0, 3]), is_l1=np.zeros(2, bool), starter=np.zeros(1, bool), l1_share=0, k=2, raw=raw)
    assert sol.owner.tolist() == [1] and sol.runner_up.tolist() == [0]

    def why(**kw: object) -> str | None:
        base = {
            "name": "Li Wei", "score": 0.81, "stage": L2, "capacity": 12, "open_load": 3, "cap": 9, "given": 2,
            "closed_deals": 40,
        }  # fmt: skip
        return runner_up_lost(RunnerUp(**{**base, **kw}), owner_score=0.5, protected=False, unproven_max=10)

    assert why(open_load=12, cap=0) == "Li Wei scored 0.81 (vs 0.50) but had no room: 12 of 12 open deals"
    assert why(score=0.4) is None
    assert "lost on the L1 protection" in (
        runner_up_lost(RunnerUp("Li Wei", 0.81, L2, 12, 3, 9, 2, 40), owner_score=0.5, protected=True, unproven_max=10)
        or ""
    )
    assert "their room went to deals where they add more: 9 of 9" in (why(given=9) or "")
    ramp = why(capacity=80, open_load=0, cap=10, given=10, closed_deals=0) or ""
    assert "no closed deal yet, so at most 10 new deals per proposal" in ramp
