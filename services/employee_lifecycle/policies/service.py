"""Policy use cases. Functions flush; the edge commits."""

import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, can_see, normalise_path, require_roles
from sanlun.kernel.errors import NotFound, Unprocessable
from sanlun.kernel.references import unknown_reference
from services.employee_lifecycle.domain.lifecycle import DEFAULT_CONFIRM_AFTER_DAYS
from services.employee_lifecycle.domain.policy import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_DOCUMENT,
    NeedThresholds,
    Policy,
    organization_candidates,
    parse_policy,
    validate_policy,
)
from services.employee_lifecycle.policies import repository
from services.employee_lifecycle.policies.models import StagePolicy
from services.employee_lifecycle.policies.schemas import PolicyRead, PolicyWrite


def read(policy: StagePolicy | None) -> PolicyRead:
    if policy is None:
        doc: dict[str, Any] = DEFAULT_POLICY_DOCUMENT
        return PolicyRead(
            id=None,
            organization_path="/",
            version=0,
            name=doc["name"],
            currency=doc["currency"],
            hysteresis=doc["hysteresis"],
            confirm_after_days=doc.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS),
            rules=doc["rules"],
            needs=_needs(doc),
            created_by=None,
            created_at=None,
        )
    doc = policy.document
    return PolicyRead(
        id=policy.id,
        organization_path=policy.organization_path,
        version=policy.version,
        name=policy.name,
        currency=doc["currency"],
        hysteresis=doc["hysteresis"],
        confirm_after_days=doc.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS),
        rules=doc["rules"],
        needs=_needs(doc),
        created_by=policy.created_by,
        created_at=policy.created_at,
    )


def _needs(doc: dict[str, Any]) -> dict[str, float]:
    # Versions stored before thresholds were part of a policy read as the shipped ones.
    return asdict(NeedThresholds.from_doc(doc.get("needs")))


async def create(*, session: AsyncSession, principal: Principal, data: PolicyWrite) -> StagePolicy:
    require_roles(principal, "org_admin", "group_admin")
    org = normalise_path(data.organization_path or principal.organization_path)
    depth = len([p for p in org.split("/") if p])
    if depth not in (1, 2):
        raise Unprocessable(
            "A policy belongs to an organisation (`/group/east`) or the group (`/group`).",
            errors=[{"loc": ["body", "organization_path"], "msg": "one or two path segments"}],
        )
    # The organisation is a reference like any other (issue 16): one that does
    # not exist and one the caller may not see get the same 422. An org admin
    # sees their organisation; the group's own policy is a group admin's.
    if not (principal.has("group_admin") or org == principal.organization_path) or not (
        await repository.organisation_unit_visible(session, principal, org)
    ):
        raise unknown_reference(
            [{"loc": ["body", "organization_path"], "msg": "no organisation at this path that you may see"}]
        )
    document = data.model_dump(exclude={"organization_path", "name"})
    errors = validate_policy(document)
    if errors:
        raise Unprocessable(
            "The policy is invalid: " + "; ".join(e["msg"] for e in errors[:5]), errors=errors, code="invalid_policy"
        )
    policy = StagePolicy(
        organization_path=org,
        version=await repository.next_policy_version(session, org),
        name=data.name,
        document=document,
        created_by=principal.subject,
    )
    session.add(policy)
    await session.flush()
    return policy


def visible(principal: Principal) -> Any:
    """The policies the caller may read, as a condition for lists."""
    return repository.readable(principal, organization_candidates(normalise_path(principal.org_unit_path)))


def may_read(principal: Principal, organization_path: str) -> bool:
    """`visible` for one organisation: a policy that can apply to the caller
    (their organisation's, the group's), or one of an organisation in their
    reach; a group admin reads all. The same rule for a policy by id and for
    the effective policy of a unit, so neither tells what the other hides."""
    own = organization_candidates(normalise_path(principal.org_unit_path))
    return organization_path in own or can_see(principal, owner_id=None, org_unit_path=organization_path)


async def get(*, session: AsyncSession, principal: Principal, policy_id: uuid.UUID) -> StagePolicy:
    policy = await repository.get_policy(session, policy_id)
    if policy is None or not may_read(principal, policy.organization_path):
        raise NotFound(f"Stage policy {policy_id} was not found.")
    return policy


async def effective(*, session: AsyncSession, principal: Principal, org_unit_path: str) -> StagePolicy | None:
    """The policy that applies to a unit: its organisation's latest, else the group's, else None (default).
    A unit of an organisation the caller may not read answers 404, as its policy by id does (issue 16)."""
    candidates = organization_candidates(normalise_path(org_unit_path))
    if candidates and not may_read(principal, candidates[0]):
        raise NotFound(f"No stage policy for org unit {normalise_path(org_unit_path)} was found.")
    stored = await repository.latest_policies(session, candidates)
    return next((stored[c] for c in candidates if c in stored), None)


async def policies_for(session: AsyncSession, org_unit_paths: set[str]) -> dict[str, Policy]:
    candidates = {c for p in org_unit_paths for c in organization_candidates(p)}
    stored = await repository.latest_policies(session, sorted(candidates))
    parsed = {org: parse_policy(p.document, version=p.version, organization_path=org) for org, p in stored.items()}
    return {
        path: next((parsed[c] for c in organization_candidates(path) if c in parsed), DEFAULT_POLICY)
        for path in org_unit_paths
    }
