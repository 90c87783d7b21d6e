"""Plain-language reasons for one proposed owner (pure domain)."""

from services.opportunity.domain.scoring import L1, L3, Scores


def reasons(
    scores: Scores,
    i: int,
    j: int,
    *,
    stage: str | None,
    protected: bool,
    coverage_note: str | None,
    stages_note: str | None,
) -> list[str]:
    out = [
        (
            f"win probability {scores.win_probability[i, j]:.2f} from {int(scores.closed_deals[j])} closed deals "
            "of their own (smoothed towards the organisation's rate)"
        ),
        f"expected won value {scores.win_probability[i, j] * scores.value[i]:,.2f}",
    ]
    if scores.continuity[i, j]:
        out.append("already on the account's coverage team (continuity)")
    elif coverage_note:
        out.append(f"continuity 0: {coverage_note}")
    out.append(f"open load {scores.load_ratio[j]:.0%} of capacity")
    if protected:
        out.append("L1 protected share: a winnable starter deal reserved for a rep in subsistence")
    elif stage == L1 and scores.starter[i]:
        out.append("winnable starter deal for an L1 rep")
    if stage == L3 and scores.stage_multiplier[i, j] < 1:
        out.append("L3 rep on a deal that is neither large nor strategic: utility reduced")
    if stage is None:
        out.append("stage unknown: no stage rule applied")
    if stages_note:
        out.append(stages_note)
    return out
