"""Who is calling, decided at the edge: a bearer JWT or an integrator's API key.

An API key (`X-API-Key: <key>` or `Authorization: ApiKey <key>`) is looked up
by its SHA-256 and turned into a service principal; its downstream calls carry
a short-lived HS256 JWT minted here, so the services keep verifying JWTs only.
A replica trusts what it read for `api_key_cache_seconds`, which bounds how
long a revoked key keeps working on the other replicas.

Every refusal says only "not valid" or "expired": nothing that tells an
attacker whether a key exists.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.api_keys.models import ApiKey
from gateway.api_keys.secrets import key_hash, looks_like_key
from gateway.ratelimit.bucket import Limit
from gateway.settings import Settings
from sanlun.kernel.auth import Principal, TokenVerifier, mint_gateway_token
from sanlun.kernel.errors import Unauthorized

API_KEY_INVALID = "The API key is not valid."
_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    # Rate-limit bucket and its size.
    bucket: str
    limit: Limit
    # Replaces the caller's Authorization on downstream calls (API keys only).
    downstream_authorization: bytes | None = None


@dataclass(slots=True)
class _CachedKey:
    caller: Caller | None  # None: unknown, revoked or expired (cached briefly too)
    until: float
    token_until: float = 0.0
    key_id: str = ""
    expires_at: float | None = None


class ApiKeys:
    def __init__(self, settings: Settings, engine: AsyncEngine | None, default_limit: Limit) -> None:
        self._settings = settings
        self._engine = engine
        self._default = default_limit
        self._cache: dict[str, _CachedKey] = {}

    def forget(self, digest: str) -> None:
        self._cache.pop(digest, None)

    async def resolve(self, key: str) -> Caller:
        if not looks_like_key(key):
            raise Unauthorized(API_KEY_INVALID)
        digest = key_hash(key)
        now = time.time()
        cached = self._cache.get(digest)
        if cached is None or cached.until <= now:
            cached = await self._load(digest, now)
        if cached.caller is None or (cached.expires_at is not None and cached.expires_at <= now):
            raise Unauthorized(API_KEY_INVALID)
        if cached.token_until - 60 <= now:
            self._mint(cached, now)
        return cached.caller

    async def _load(self, digest: str, now: float) -> _CachedKey:
        if self._engine is None:
            raise Unauthorized(API_KEY_INVALID)
        stmt = sa.select(
            ApiKey.id,
            ApiKey.roles,
            ApiKey.org_unit_path,
            ApiKey.expires_at,
            ApiKey.revoked_at,
            ApiKey.rate_limit_per_second,
        ).where(ApiKey.key_hash == digest)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        until = now + self._settings.api_key_cache_seconds
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        if row is None or row.revoked_at is not None:
            entry = _CachedKey(caller=None, until=until)
        else:
            principal = Principal(
                subject=f"apikey:{row.id}", org_unit_path=row.org_unit_path, roles=frozenset(row.roles)
            )
            rate = row.rate_limit_per_second
            limit = (
                self._default
                if rate is None
                else Limit(capacity=max(1, round(rate * self._default.capacity / self._default.rate)), rate=rate)
            )
            entry = _CachedKey(
                caller=Caller(principal, bucket=f"key:{row.id}", limit=limit),
                until=until,
                key_id=str(row.id),
                expires_at=row.expires_at.timestamp() if isinstance(row.expires_at, dt.datetime) else None,
            )
        self._cache[digest] = entry
        return entry

    def _mint(self, cached: _CachedKey, now: float) -> None:
        if cached.caller is None:
            raise ValueError("an unknown or revoked key has no token to mint")
        s = self._settings
        ttl = s.api_key_token_ttl_seconds
        if cached.expires_at is not None:
            ttl = max(1, min(ttl, int(cached.expires_at - now)))
        p = cached.caller.principal
        token = mint_gateway_token(
            s.service_secret.get_secret_value(),
            subject=p.subject,
            org_unit_path=p.org_unit_path,
            roles=p.roles,
            ttl_seconds=ttl,
        )
        cached.caller = Caller(p, cached.caller.bucket, cached.caller.limit, b"Bearer " + token.encode())
        cached.token_until = now + ttl


class EdgeAuth:
    def __init__(self, verifier: TokenVerifier, api_keys: ApiKeys, default_limit: Limit) -> None:
        self._verifier = verifier
        self.api_keys = api_keys
        self._default = default_limit

    async def authenticate(self, headers: list[tuple[bytes, bytes]]) -> Caller:
        authorization = api_key = b""
        for name, value in headers:
            if name == b"authorization":
                authorization = value
            elif name == b"x-api-key":
                api_key = value
        if api_key:
            return await self.api_keys.resolve(api_key.decode("latin-1").strip())
        scheme, _, credential = authorization.decode("latin-1").partition(" ")
        scheme = scheme.lower()
        if scheme == "apikey":
            return await self.api_keys.resolve(credential.strip())
        if scheme != "bearer" or not credential.strip():
            raise Unauthorized("Send `Authorization: Bearer <token>` or an `X-API-Key` header.")
        principal = await self._verifier.verify(credential.strip())
        if principal.is_service:
            raise Unauthorized("A service token is not accepted on public routes.")
        return Caller(principal, bucket=f"sub:{principal.subject}", limit=self._default)
