"""Creating, reading and revoking API keys (admins only)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api_keys import repository
from gateway.api_keys.models import ApiKey
from gateway.api_keys.schemas import ApiKeyCreate, KeyStatus
from gateway.api_keys.secrets import DISPLAY_CHARS, key_hash, new_key
from sanlun.kernel.auth import Principal, normalise_path, require_roles
from sanlun.kernel.db import utcnow
from sanlun.kernel.errors import Forbidden, NotFound, Unprocessable

ADMIN_ROLES = ("org_admin", "group_admin")


def status_of(key: ApiKey, now: dt.datetime) -> KeyStatus:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _within(path: str, prefix: str) -> bool:
    prefix = normalise_path(prefix)
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def require_admin(principal: Principal) -> None:
    require_roles(principal, *ADMIN_ROLES)


async def create(*, session: AsyncSession, principal: Principal, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    require_admin(principal)
    path = normalise_path(data.org_unit_path)
    if not principal.has("group_admin") and not _within(path, principal.organization_path):
        raise Forbidden("You may create keys only for your own organisation.")
    # A key never holds more than its creator (integrator is below every admin).
    beyond = sorted(set(data.roles) - principal.roles - {"integrator"})
    if beyond:
        raise Forbidden(f"You cannot give a key roles you do not hold: {', '.join(beyond)}.")
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise Unprocessable(
            "expires_at is in the past.", errors=[{"loc": ["body", "expires_at"], "msg": "must be in the future"}]
        )
    secret = new_key()
    key = ApiKey(
        id=uuid.uuid4(),
        name=data.name,
        prefix=secret[:DISPLAY_CHARS],
        key_hash=key_hash(secret),
        roles=sorted(set(data.roles)),
        org_unit_path=path,
        created_by=principal.subject,
        expires_at=data.expires_at,
        rate_limit_per_second=data.rate_limit_per_second,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def get(*, session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKey:
    require_admin(principal)
    key = await repository.get_visible(session, principal, key_id)
    if key is None:
        raise NotFound("No API key with this id.")
    return key


async def revoke(*, session: AsyncSession, principal: Principal, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = principal.subject
        await session.flush()
