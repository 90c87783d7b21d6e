import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api_keys.models import ApiKey
from sanlun.kernel.auth import Principal, path_within


def visible(principal: Principal) -> sa.ColumnElement[bool]:
    """Group admins see every key; org admins their organisation's."""
    if principal.has("group_admin"):
        return sa.true()
    if principal.has("org_admin"):
        return path_within(ApiKey.org_unit_path, principal.organization_path)
    return sa.false()


def list_statement(principal: Principal, *, org_unit: str | None) -> sa.Select[Any]:
    stmt = sa.select(ApiKey).where(visible(principal))
    if org_unit is not None:
        stmt = stmt.where(path_within(ApiKey.org_unit_path, org_unit))
    return stmt


async def get_visible(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey | None:
    stmt = sa.select(ApiKey).where(ApiKey.id == key_id, visible(principal))
    return (await session.execute(stmt)).scalar_one_or_none()
