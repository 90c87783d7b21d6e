"""Who use cases: evaluate tiers with the organisation's policy, override them, tune the policy."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, normalise_path, require_roles
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Forbidden, NotFound, Unprocessable
from services.key_account.accounts.models import Account
from services.key_account.domain.segmentation import DEFAULT_POLICY, Inputs, Policy, segment, validate_policy
from services.key_account.segmentation import repository
from services.key_account.segmentation.models import SegmentationPolicy

OVERRIDING_ROLES = ("manager", "org_admin", "group_admin")


def _policy(row: SegmentationPolicy | None) -> Policy:
    if row is None:
        return DEFAULT_POLICY
    return Policy.from_dict({**row.policy, "version": row.version})


def _inputs(row: Any, best: tuple[int, str] | None) -> Inputs:
    return Inputs(
        revenue_amount=row.annual_revenue_amount,
        revenue_currency=row.annual_revenue_currency,
        potential=row.potential,
        strategic_value=row.strategic_value,
        solution_fit=row.solution_fit,
        relationship_strength=best[0] if best else None,
        relationship_level=best[1] if best else None,
    )


def check_may_read(principal: Principal, org_unit_path: str) -> str:
    """An organisation's policy is read inside that organisation (and by group admins, or by anyone whose
    organisation is the whole group): elsewhere 404, the same as an org unit that does not exist.
    Returns the org unit normalised."""
    path = normalise_path(org_unit_path)
    org = principal.organization_path
    if principal.has("group_admin") or org == "/" or path == org or path.startswith(org + "/"):
        return path
    raise NotFound(f"No segmentation policy was found for org unit {path}.")


async def effective_policy(*, session: AsyncSession, org_unit_path: str) -> tuple[Policy, str | None]:
    row = await repository.policy_for(session, org_unit_path)
    return _policy(row), row.org_path if row else None


async def evaluate(*, session: AsyncSession, account: Account) -> Account:
    """Score one account now and store the result (the override, if any, stays in force)."""
    policy, _ = await effective_policy(session=session, org_unit_path=account.org_unit_path)
    best = (await repository.best_relationships(session, [account.id])).get(account.id)
    result = segment(policy, _inputs(account, best))
    account.computed_tier = result.tier
    account.tier = account.tier_override or result.tier
    account.tier_score = result.score
    account.tier_reasons = result.reasons_dicts()
    account.tier_policy_version = result.policy_version
    account.tier_evaluated_at = utcnow()
    await session.flush()
    return account


async def evaluate_many(*, session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> None:
    """Score many accounts with three queries whatever their number (bulk import)."""
    rows = await repository.segmentation_inputs(session, account_ids)
    best = await repository.best_relationships(session, account_ids)
    policies = await repository.policies_for(session, [r.org_unit_path for r in rows])
    updates = []
    for row in rows:
        result = segment(_policy(policies[row.org_unit_path]), _inputs(row, best.get(row.id)))
        updates.append(
            {
                "id": row.id,
                "computed_tier": result.tier,
                "tier_score": result.score,
                "tier_reasons": result.reasons_dicts(),
                "tier_policy_version": result.policy_version,
            }
        )
    await repository.write_tiers(session, updates)


async def override(
    *, session: AsyncSession, principal: Principal, account: Account, tier: str | None, reason: str | None
) -> Account:
    require_roles(principal, *OVERRIDING_ROLES)
    if not can_see(principal, owner_id=None, org_unit_path=account.org_unit_path):
        # Seeing an account as a coverage member's manager is not managing it.
        raise Forbidden("Only a manager or admin over the account's org unit may override its tier.")
    account.tier_override = tier
    account.tier_override_reason = reason
    account.tier_overridden_by = principal.employee_id if tier else None
    account.tier_overridden_at = utcnow() if tier else None
    account.tier = tier or account.computed_tier
    await session.flush()
    return account


async def save_policy(*, session: AsyncSession, principal: Principal, org_path: str, policy: Policy) -> tuple[int, int]:
    """Store a new version and re-score the organisation's accounts; returns (version, accounts re-scored)."""
    require_roles(principal, "org_admin", "group_admin")
    org_path = normalise_path(org_path)
    if not principal.has("group_admin") and org_path != principal.organization_path:
        raise Forbidden("An org admin sets the policy of their own organisation only.")
    problems = validate_policy(policy)
    if problems:
        raise Unprocessable(
            "The segmentation policy is not usable.",
            errors=[{"loc": ["body", field], "msg": msg} for field, msg in problems],
        )
    data = policy.as_dict()
    data.pop("version")
    version = await repository.save_policy(session, org_path=org_path, policy=data, updated_by=principal.employee_id)
    return version, await rescore_under(session=session, org_path=org_path)


RESCORE_CHUNK = 1000


async def rescore_under(*, session: AsyncSession, org_path: str) -> int:
    """Re-score every account under `org_path` with the policy in force for it
    (a new policy applies to the accounts it governs at once, not only when
    each is next touched): three queries per thousand accounts."""
    ids = await repository.account_ids_under(session, org_path)
    for start in range(0, len(ids), RESCORE_CHUNK):
        await evaluate_many(session=session, account_ids=ids[start : start + RESCORE_CHUNK])
    return len(ids)
