"""Evaluate a policy over one employee's signals: the stage, every rule with
observed value, threshold and met/unmet, the needs and the gap to the next stage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from services.employee_lifecycle.domain.catalog import L1, L2, L3, RANK, SIGNALS, STAGE_LABELS, STAGES, format_value
from services.employee_lifecycle.domain.policy import Condition, NeedThresholds, Policy, Rule

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"

# the thresholds `needs` uses when the policy gives none (frozen, so one shared instance is safe)
DEFAULT_NEEDS = NeedThresholds()


@dataclass(frozen=True, slots=True)
class ConditionResult:
    signal: str
    op: str
    threshold: float
    observed: float | None
    met: bool | None


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule_id: str
    stage: str
    status: str
    conditions: tuple[ConditionResult, ...]


@dataclass(frozen=True, slots=True)
class GapItem:
    signal: str
    observed: float | None
    threshold: float
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Gap:
    target_stage: str
    rule_id: str | None
    items: tuple[GapItem, ...]
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    stage: str
    decided_by: str | None
    rules: tuple[RuleResult, ...]
    signals: Mapping[str, float | None]


def _check(rule: Rule, signals: Mapping[str, float | None]) -> RuleResult:
    results = []
    for c in rule.conditions:
        observed = signals.get(c.signal)
        results.append(
            ConditionResult(c.signal, c.op, c.value, observed, None if observed is None else c.holds(observed))
        )
    return RuleResult(rule.id, rule.stage, _status(results), tuple(results))


def _status(results: list[ConditionResult]) -> str:
    if any(r.met is None for r in results):
        return UNKNOWN  # an unknown signal makes the rule step aside, not fail
    return MET if all(r.met for r in results) else UNMET


def evaluate(policy: Policy, signals: Mapping[str, float | None]) -> Evaluation:
    """Top-down: the first of L3, L2 with a met rule; else L1."""
    results = tuple(_check(r, signals) for r in policy.rules)
    for stage in (L3, L2):
        met = next((r for r in results if r.stage == stage and r.status == MET), None)
        if met is not None:
            return Evaluation(stage, met.rule_id, results, dict(signals))
    return Evaluation(L1, None, results, dict(signals))


def needs(stage: str, signals: Mapping[str, float | None], limits: NeedThresholds = DEFAULT_NEEDS) -> list[str]:
    def below(name: str, limit: float) -> bool:
        v = signals.get(name)
        return v is None or v < limit

    out = []
    if below("wins_12m", limits.few_wins_12m) or below("open_pipeline_count", limits.few_open_opportunities):
        out.append("lacks_deals")
    if below("solution_breadth", limits.narrow_solutions):
        out.append("lacks_solution_knowledge")
    if stage == L1 and (
        below("tenure_months", limits.new_in_sales_months) or below("win_rate_12m", limits.low_win_rate)
    ):
        out.append("lacks_support")
    influence = signals.get("influence_score")
    if stage == L3 or (influence is not None and influence >= limits.some_influence):
        out.append("wants_influence")
    return out


def _gap_item(c: ConditionResult) -> GapItem:
    sig = SIGNALS[c.signal]
    obs = c.observed if c.observed is not None else 0.0
    raising = c.op in (">=", ">")
    if raising and sig.more_en:
        target = c.threshold + 1 if c.op == ">" and sig.integer else c.threshold
        n = max(1, math.ceil(target - obs))
        return GapItem(c.signal, c.observed, c.threshold, sig.more_en.format(n=n), sig.more_zh.format(n=n))
    word_en = "at least" if raising else "at most"
    word_zh = "至少" if raising else "至多"
    obs_s, thr_s = format_value(sig, obs), format_value(sig, c.threshold)
    if c.op in (">", "<"):
        word_en, word_zh = ("above", "高于") if raising else ("below", "低于")
    return GapItem(
        c.signal,
        c.observed,
        c.threshold,
        f"{sig.en} from {obs_s} to {word_en} {thr_s}",
        f"{sig.zh}从 {obs_s} {'提升' if raising else '降低'}到{word_zh} {thr_s}",
    )


def _shortfall(c: ConditionResult) -> float:
    sig = SIGNALS[c.signal]
    scale = abs(c.threshold) or 1.0
    return (
        abs(c.threshold - (c.observed or 0.0)) / scale
        if not sig.integer
        else abs(c.threshold - (c.observed or 0.0)) / max(scale, 1)
    )


def gap(policy: Policy, evaluation: Evaluation, stage: str) -> Gap | None:
    """What separates `stage` from the next one, via the closest rule of that stage."""
    if stage == L3:
        return None
    target = STAGES[RANK[stage] + 1]
    label = STAGE_LABELS[target]
    candidates = [r for r in evaluation.rules if r.stage == target and r.status != UNKNOWN]
    if not candidates:
        unknown = sorted(
            {c.signal for r in evaluation.rules if r.stage == target for c in r.conditions if c.met is None}
        )
        return Gap(
            target,
            None,
            (),
            f"Not enough data to reach {label['en']}: {', '.join(unknown)} unknown (set quotas or back-fill history).",
            f"数据不足，无法判断能否进入{label['zh']}：{', '.join(unknown)} 未知（请设置配额或补录历史）。",
        )

    def distance(r: RuleResult) -> tuple[int, float]:
        unmet = [c for c in r.conditions if not c.met]
        return len(unmet), sum(_shortfall(c) for c in unmet)

    best = min(candidates, key=distance)
    items = tuple(_gap_item(c) for c in best.conditions if not c.met)
    if not items:  # met but held back by hysteresis or an override
        return Gap(target, best.rule_id, (), f"Criteria for {label['en']} are met.", f"已满足{label['zh']}的条件。")
    return Gap(
        target,
        best.rule_id,
        items,
        f"To reach {label['en']}: " + "; ".join(i.en for i in items) + ".",
        f"进入{label['zh']}还需：" + "；".join(i.zh for i in items) + "。",
    )


def reasons(evaluation: Evaluation) -> tuple[str, str]:
    """One line a manager can read: why this stage."""
    if evaluation.decided_by is None:
        return ("No rule of L2 or L3 is met.", "未满足小康或富裕的任何规则。")
    rule = next(r for r in evaluation.rules if r.rule_id == evaluation.decided_by)
    parts = [
        f"{SIGNALS[c.signal].en} {format_value(SIGNALS[c.signal], c.observed or 0)} {c.op} "
        f"{format_value(SIGNALS[c.signal], c.threshold)}"
        for c in rule.conditions
    ]
    parts_zh = [
        f"{SIGNALS[c.signal].zh} {format_value(SIGNALS[c.signal], c.observed or 0)} {c.op} "
        f"{format_value(SIGNALS[c.signal], c.threshold)}"
        for c in rule.conditions
    ]
    return (
        f"Rule {rule.rule_id} is met: " + ", ".join(parts) + ".",
        f"满足规则 {rule.rule_id}：" + "，".join(parts_zh) + "。",
    )


__all__ = ["Condition", "Evaluation", "Gap", "evaluate", "gap", "needs", "reasons"]
