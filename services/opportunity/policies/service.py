"""Per-organisation policy: the stored document or the shipped default."""

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, require_roles
from services.opportunity.domain.policy import Policy
from services.opportunity.policies.models import PolicyRow


def organization_of(org_unit_path: str) -> str:
    parts = [p for p in org_unit_path.split("/") if p]
    return "/" + "/".join(parts[:2]) if parts else "/"


async def policy_for(session: AsyncSession, org_unit_path: str) -> Policy:
    row = await session.get(PolicyRow, organization_of(org_unit_path))
    return Policy.model_validate(row.document) if row else Policy()


async def get_row(session: AsyncSession, principal: Principal) -> PolicyRow | None:
    return await session.get(PolicyRow, principal.organization_path)


async def put(*, session: AsyncSession, principal: Principal, policy: Policy) -> PolicyRow:
    require_roles(principal, "org_admin", "group_admin")
    row = await session.get(PolicyRow, principal.organization_path)
    document = policy.model_dump(mode="json")
    if row is None:
        row = PolicyRow(organization_path=principal.organization_path, document=document, updated_by=principal.subject)
        session.add(row)
    else:
        row.document, row.updated_by = document, principal.subject
    await session.flush()
    return row
