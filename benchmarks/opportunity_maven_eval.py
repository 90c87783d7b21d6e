"""Replays the Maven CRM sample (shipped in sanlun/data/maven_crm/) through the
assignment node and the solution recommender, with the service's own pure
domain code (scoring, solver, ranking).

    python benchmarks/opportunity_maven_eval.py [--data DIR] [--quarter 2017Q3] [--test-quarter 2017Q4]

Assignment: the opportunities engaged in one quarter are assigned to the 35
agents (a) round-robin in engage order and (b) by the stage-aware optimiser,
both under the same capacity (an equal share of the quarter's deals + 20%).
Each is valued by the *expected won value*: Σ amount × the agent's
historical win rate for that product (won / closed before the quarter,
smoothed towards the agent's overall rate with 5 pseudo-deals) — a measure
the optimiser does not use as such (it scores industry, size band and
product). The amount of an open deal is its product's list price.

Stages: the lifecycle service is not used here; each agent's stage comes from
their history in the 12 months before the quarter by a simple rule:
  L1 if their wins are in the bottom quarter of agents,
  L3 if their won value is in the top quarter and their win rate at least the median,
  L2 otherwise.

Winnable starter deal: list price under 5,000 and a mean win probability
over the agents of at least 0.3 (the policy's starter definition with the
amount threshold set for this price list); large deal: 20,000 and over.

Recommendation: for every deal won in the test quarter, the top 3 products
ranked from outcomes closed before that quarter (12-month window, industry
and size band of the account), hit if the deal's product is among them;
baseline: the 3 most-won products overall over the same history.

Data flaws are normalised and counted, never dropped silently: the sector
`technolgy` → `technology`, the product `GTXPro` → `GTX Pro`, deals without
an account keep no industry / size band.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sanlun.importer.cli import sample_data_dir
from services.opportunity.domain.policy import AssignmentPolicy
from services.opportunity.domain.ranking import Candidate, rank
from services.opportunity.domain.scoring import L1, L2, L3, Deal, History, Rep, score
from services.opportunity.domain.solver import UNASSIGNED, solve

DEFAULT_DATA = sample_data_dir()
SECTORS = {"technolgy": "technology"}
PRODUCTS = {"GTXPro": "GTX Pro"}


def quarter_bounds(q: str) -> tuple[dt.date, dt.date]:
    year, n = int(q[:4]), int(q[-1])
    start = dt.date(year, 3 * (n - 1) + 1, 1)
    end = dt.date(year + (n == 4), (3 * n) % 12 + 1, 1)
    return start, end


def size_band(employees: int) -> str:
    return "small" if employees < 1000 else "mid" if employees < 5000 else "large"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def load(data: Path) -> tuple[list[dict], dict[str, dict], dict[str, float], Counter]:
    flaws: Counter = Counter()
    accounts = {}
    for row in read_csv(data / "accounts.csv"):
        if row["sector"] in SECTORS:
            flaws[f"sector {row['sector']!r} normalised"] += 1
        accounts[row["account"]] = {
            "industry": SECTORS.get(row["sector"], row["sector"]),
            "size_band": size_band(int(row["employees"])),
        }
    prices = {r["product"]: float(r["sales_price"]) for r in read_csv(data / "products.csv")}
    deals = []
    for row in read_csv(data / "sales_pipeline.csv"):
        if row["product"] in PRODUCTS:
            flaws[f"product {row['product']!r} normalised"] += 1
        product = PRODUCTS.get(row["product"], row["product"])
        account = accounts.get(row["account"])
        if account is None:
            flaws["deal without a known account (kept, no industry/size band)"] += 1
        deals.append(
            {
                "id": row["opportunity_id"],
                "agent": row["sales_agent"],
                "product": product,
                "industry": account["industry"] if account else None,
                "size_band": account["size_band"] if account else None,
                "stage": row["deal_stage"],
                "engaged": dt.date.fromisoformat(row["engage_date"]) if row["engage_date"] else None,
                "closed": dt.date.fromisoformat(row["close_date"]) if row["close_date"] else None,
                "value": float(row["close_value"]) if row["close_value"] else None,
            }
        )
    return deals, accounts, prices, flaws


def closed_before(deals: list[dict], day: dt.date) -> list[dict]:
    return [d for d in deals if d["stage"] in ("Won", "Lost") and d["closed"] and d["closed"] < day]


def stages_by_rule(agents: list[str], history: list[dict], start: dt.date) -> dict[str, str]:
    recent = [d for d in history if d["closed"] >= start - dt.timedelta(days=365)]
    wins = Counter(d["agent"] for d in recent if d["stage"] == "Won")
    value = Counter()
    closed = Counter(d["agent"] for d in recent)
    for d in recent:
        if d["stage"] == "Won":
            value[d["agent"]] += d["value"] or 0
    w = np.array([wins[a] for a in agents], dtype=float)
    v = np.array([value[a] for a in agents], dtype=float)
    rate = np.array([wins[a] / closed[a] if closed[a] else 0 for a in agents])
    out = {}
    for i, a in enumerate(agents):
        if w[i] <= np.percentile(w, 25):
            out[a] = L1
        elif v[i] >= np.percentile(v, 75) and rate[i] >= np.median(rate):
            out[a] = L3
        else:
            out[a] = L2
    return out


def history_of(history: list[dict]) -> History:
    h = History()
    tallies: dict[str, dict] = {
        "overall": defaultdict(lambda: [0, 0]),
        "industry": defaultdict(lambda: [0, 0]),
        "size_band": defaultdict(lambda: [0, 0]),
        "solution": defaultdict(lambda: [0, 0]),
    }
    for d in history:
        won = d["stage"] == "Won"
        keys = {"overall": d["agent"], "solution": (d["agent"], d["product"])}
        if d["industry"]:
            keys["industry"] = (d["agent"], d["industry"])
            keys["size_band"] = (d["agent"], d["size_band"])
        for kind, key in keys.items():
            tallies[kind][key][0] += won
            tallies[kind][key][1] += 1
    h.overall = {k: tuple(v) for k, v in tallies["overall"].items()}
    h.industry = {k: tuple(v) for k, v in tallies["industry"].items()}
    h.size_band = {k: tuple(v) for k, v in tallies["size_band"].items()}
    h.solution = {k: tuple(v) for k, v in tallies["solution"].items()}
    return h


def evaluation_rates(agents: list[str], products: list[str], h: History) -> np.ndarray:
    """agents × products: the agent's own win rate with the product, smoothed to their overall rate."""
    out = np.zeros((len(agents), len(products)))
    for i, a in enumerate(agents):
        w, n = h.overall.get(a, (0, 0))
        base = w / n if n else 0.0
        for j, p in enumerate(products):
            pw, pn = h.solution.get((a, p), (0, 0))
            out[i, j] = (pw + 5 * base) / (pn + 5)
    return out


def assignment_eval(deals: list[dict], prices: dict[str, float], quarter: str) -> None:
    start, end = quarter_bounds(quarter)
    batch = [d for d in deals if d["engaged"] and start <= d["engaged"] < end]
    batch.sort(key=lambda d: (d["engaged"], d["id"]))
    history = closed_before(deals, start)
    agents = sorted({d["agent"] for d in deals})
    stages = stages_by_rule(agents, history, start)
    h = history_of(history)
    capacity = int(np.ceil(len(batch) / len(agents) * 1.2))
    reps = [Rep(a, stages[a], capacity, 0) for a in agents]
    policy = AssignmentPolicy(starter_max_amount=5000, large_min_amount=20000, starter_min_win_probability=0.3)
    units = [Deal(d["id"], prices[d["product"]], d["industry"], d["size_band"], (d["product"],)) for d in batch]
    s = score(units, reps, h, policy)
    free = np.array([r.free for r in reps])
    is_l1 = np.array([r.stage == L1 for r in reps])
    sol = solve(
        s.utility,
        free,
        is_l1=is_l1,
        starter=s.starter,
        l1_share=policy.l1_starter_share,
        k=policy.candidates_per_opportunity,
    )
    round_robin = np.arange(len(batch)) % len(agents)
    products = sorted(prices)
    rates = evaluation_rates(agents, products, h)
    product_index = np.array([products.index(d["product"]) for d in batch])
    amount = np.array([prices[d["product"]] for d in batch])

    def measure(owner: np.ndarray) -> tuple[float, float, int]:
        placed = owner != UNASSIGNED
        value = float((rates[owner[placed], product_index[placed]] * amount[placed]).sum())
        starters = s.starter & placed
        to_l1 = int((starters & is_l1[np.maximum(owner, 0)]).sum())
        return value, to_l1 / max(int(s.starter.sum()), 1), int(placed.sum())

    rr_value, rr_l1, rr_n = measure(round_robin)
    opt_value, opt_l1, opt_n = measure(sol.owner)
    counts = Counter(stages.values())
    print(
        f"\n## Assignment replay: {len(batch):,} opportunities engaged in {quarter}, {len(agents)} agents "
        f"(L1 {counts[L1]}, L2 {counts[L2]}, L3 {counts[L3]}), capacity {capacity} each; "
        f"history: {len(history):,} deals closed before {start}\n"
    )
    print("| method | assigned | expected won value | vs round-robin | share of winnable starters to L1 |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| round-robin | {rr_n:,} | {rr_value:,.0f} | — | {rr_l1:.1%} |")
    print(f"| stage-aware optimiser | {opt_n:,} | {opt_value:,.0f} | {opt_value / rr_value - 1:+.1%} | {opt_l1:.1%} |")
    print(
        f"\nwinnable starters: {int(s.starter.sum()):,} of {len(batch):,}; L1 agents are "
        f"{counts[L1] / len(agents):.0%} of the pool; protected share target {policy.l1_starter_share:.0%}"
    )


def recommendation_eval(deals: list[dict], quarter: str) -> None:
    start, end = quarter_bounds(quarter)
    history = [d for d in closed_before(deals, start) if d["closed"] >= start - dt.timedelta(days=365)]
    tests = [d for d in deals if d["stage"] == "Won" and d["closed"] and start <= d["closed"] < end]
    products = sorted({d["product"] for d in deals})
    tally: dict[tuple, Counter] = defaultdict(Counter)
    for d in history:
        tally[(d["industry"], d["size_band"], d["product"])]["wins" if d["stage"] == "Won" else "losses"] += 1
    overall = Counter()
    for (_industry, _band, p), c in tally.items():
        overall[p] += c["wins"]
    baseline = [p for p, _ in overall.most_common(3)]

    def candidates(industry: str | None, band: str | None) -> list[Candidate]:
        out = []
        for p in products:
            sim = tally.get((industry, band, p), Counter())
            ind_w = sum(c["wins"] for (i, _, q), c in tally.items() if i == industry and q == p) if industry else 0
            ind_l = sum(c["losses"] for (i, _, q), c in tally.items() if i == industry and q == p) if industry else 0
            all_l = sum(c["losses"] for (_, _, q), c in tally.items() if q == p)
            out.append(
                Candidate(
                    p,
                    p,
                    (),
                    (),
                    wins_similar=sim["wins"] if industry else 0,
                    losses_similar=sim["losses"] if industry else 0,
                    wins_industry=ind_w,
                    losses_industry=ind_l,
                    wins_all=overall[p],
                    losses_all=all_l,
                )
            )
        return out

    cache: dict[tuple, list[str]] = {}
    hits = base_hits = 0
    for d in tests:
        key = (d["industry"], d["size_band"])
        if key not in cache:
            cache[key] = [
                r.candidate.solution_id for r in rank(candidates(*key), industry=key[0], size_band=key[1], k=3)
            ]
        hits += d["product"] in cache[key]
        base_hits += d["product"] in baseline
    print(
        f"\n## Recommendation hit rate at 3: {len(tests):,} deals won in {quarter}, trained on "
        f"{len(history):,} outcomes closed in the 12 months before {start} ({len(products)} products)\n"
    )
    print("| method | hit@3 |\n| --- | --- |")
    print(f"| most sold overall (baseline: {', '.join(baseline)}) | {base_hits / len(tests):.1%} |")
    print(f"| recommender (similar accounts, industry, win rate, popularity) | {hits / len(tests):.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quarter", default="2017Q3", help="Quarter whose engaged opportunities are assigned.")
    parser.add_argument("--test-quarter", default="2017Q4", help="Quarter whose won deals test the recommender.")
    args = parser.parse_args()
    deals, _, prices, flaws = load(args.data)
    print(
        f"# Maven CRM replay ({len(deals):,} opportunities)\n\ndata flaws handled: "
        + "; ".join(f"{k}: {v}" for k, v in sorted(flaws.items()))
    )
    assignment_eval(deals, prices, args.quarter)
    recommendation_eval(deals, args.test_quarter)


if __name__ == "__main__":
    main()
