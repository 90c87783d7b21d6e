"""Stages and the signals a policy may test, with their ranges and wording."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

L1, L2, L3 = "L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"
STAGES = (L1, L2, L3)
RANK = {s: i for i, s in enumerate(STAGES)}
# The same three codes as a type, for the request and response models.
StageCode = Literal["L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"]
STAGE_LABELS = {
    L1: {"en": "subsistence", "zh": "温饱"},
    L2: {"en": "comfortable", "zh": "小康"},
    L3: {"en": "affluent", "zh": "富裕"},
}
NEEDS = ("lacks_deals", "lacks_solution_knowledge", "lacks_support", "wants_influence")


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    low: float
    high: float
    integer: bool
    kind: str  # count | rate | money | months | score
    en: str
    zh: str
    # "{n} more ..." wording for a count short of its threshold
    more_en: str = ""
    more_zh: str = ""


INF = math.inf
SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "tenure_months",
            0,
            INF,
            True,
            "months",
            "months in sales",
            "销售年资（月）",
            "{n} more months in sales",
            "在销售岗位再积累 {n} 个月",
        ),
        Signal(
            "wins_12m",
            0,
            INF,
            True,
            "count",
            "wins over 12 months",
            "12个月赢单数",
            "{n} more wins over 12 months",
            "12个月内再赢 {n} 单",
        ),
        Signal("win_rate_12m", 0, 1, False, "rate", "win rate over 12 months", "12个月赢单率"),
        Signal("revenue_12m", 0, INF, False, "money", "revenue over 12 months", "12个月收入"),
        Signal(
            "quota_attainment_4q",
            0,
            INF,
            False,
            "rate",
            "quota attainment over the last 4 quarters",
            "近4个季度配额完成率",
        ),
        Signal(
            "quarters_at_quota",
            0,
            4,
            True,
            "count",
            "quarters at quota",
            "完成配额的季度数",
            "{n} more quarters at quota",
            "再有 {n} 个季度完成配额",
        ),
        Signal(
            "stable_accounts",
            0,
            INF,
            True,
            "count",
            "stable accounts",
            "稳定客户数",
            "{n} more stable accounts",
            "再增加 {n} 个稳定客户",
        ),
        Signal(
            "open_pipeline_count",
            0,
            INF,
            True,
            "count",
            "open opportunities",
            "在途商机数",
            "{n} more open opportunities",
            "再增加 {n} 个在途商机",
        ),
        Signal("open_pipeline_value", 0, INF, False, "money", "open pipeline value", "在途商机金额"),
        Signal(
            "solution_breadth",
            0,
            INF,
            True,
            "count",
            "solutions sold (24 months)",
            "24个月售出的解决方案种数",
            "{n} more solutions sold",
            "再多卖出 {n} 种解决方案",
        ),
        Signal(
            "influence_score",
            0,
            INF,
            False,
            "score",
            "influence score",
            "影响力分数",
            "{n} more influence points",
            "影响力再增加 {n} 分",
        ),
    )
}


def format_value(signal: Signal, value: float) -> str:
    if signal.kind == "rate":
        return f"{value * 100:.0f}%"
    if signal.kind == "money":
        return f"{value:,.2f}"
    if signal.integer or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:g}"
