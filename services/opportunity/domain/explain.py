"""Plain-language reasons for one proposed owner, and why the runner-up lost
when they scored higher (pure domain)."""

from dataclasses import dataclass

from services.opportunity.domain.scoring import L1, L3, Scores


@dataclass(frozen=True, slots=True)
class RunnerUp:
    """What the proposal knows about the best other candidate for a deal."""

    name: str
    score: float  # before the caps
    stage: str | None
    capacity: int
    open_load: int
    cap: int  # new deals they could get from this proposal
    given: int  # new deals they did get from it
    closed_deals: int


def runner_up_lost(runner: RunnerUp, *, owner_score: float, protected: bool, unproven_max: int) -> str | None:
    """Why a runner-up who scored higher than the chosen owner did not get the
    deal; None when they scored no higher (the score says it all)."""
    if runner.score <= owner_score:
        return None
    head = f"{runner.name} scored {runner.score:,.2f} (vs {owner_score:,.2f})"
    if runner.open_load >= runner.capacity:
        return f"{head} but had no room: {runner.open_load} of {runner.capacity} open deals"
    if runner.cap == 0:
        return f"{head} but may get no new deal from this proposal"
    if protected and runner.stage != L1:
        return f"{head} but lost on the L1 protection: this winnable starter deal is reserved for a rep in subsistence"
    if runner.given >= runner.cap:
        if runner.closed_deals == 0 and runner.cap == unproven_max < runner.capacity - runner.open_load:
            why = f"no closed deal yet, so at most {unproven_max} new deals per proposal"
        else:
            why = f"{runner.open_load} of {runner.capacity} open deals before it"
        return f"{head} but their room went to deals where they add more: {runner.given} of {runner.cap} ({why})"
    return f"{head} but the batch's best overall placement put it elsewhere ({runner.given} of {runner.cap} taken)"


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
