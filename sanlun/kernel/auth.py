"""Identity: JWT verification, the `Principal`, and visibility filters.

Every process verifies the bearer token itself (no trust by network
position). HS256 with a shared secret serves development; RS256 with keys from
a JWKS URL serves a real identity provider (keys are fetched asynchronously,
cached, and re-fetched when a token names an unknown `kid`, so rotation works).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, or_, true

from sanlun.kernel.errors import Forbidden, Unauthorized
from sanlun.kernel.logging import principal_var
from sanlun.kernel.settings import ProcessSettings

ROLES = ("rep", "manager", "org_admin", "group_admin", "integrator", "ops", "service")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `employee_id` is the JWT `sub` (None for service principals)."""

    subject: str
    org_unit_path: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def employee_id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None

    def has(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def organization_path(self) -> str:
        """The organisation the caller's org unit belongs to (`organization_of`)."""
        return organization_of(self.org_unit_path)

    @property
    def is_service(self) -> bool:
        return "service" in self.roles


def organization_of(path: str) -> str:
    """The organisation an org unit path belongs to: its first two segments
    (`/group/east` for `/group/east/team-3`); the root (`/group`) is its own."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) if parts else "/"


def normalise_path(path: str) -> str:
    path = "/" + "/".join(p for p in path.split("/") if p)
    return path


class TokenVerifier:
    def __init__(self, settings: ProcessSettings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http = http
        self._jwks: dict[str | None, Any] = {}
        self._jwks_fetched = 0.0
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def _key_for(self, token: str) -> Any:
        s = self._settings
        if s.jwt_algorithm == "HS256":
            return s.jwt_secret.get_secret_value()
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self._jwks and time.monotonic() - self._jwks_fetched > 30:
            await self._refresh_jwks()
        if kid not in self._jwks:
            raise Unauthorized("The token is signed with an unknown key.")
        return self._jwks[kid]

    async def _refresh_jwks(self) -> None:
        jwks_url = self._settings.jwks_url
        if not jwks_url:
            raise Unauthorized("No identity provider keys are configured for RS256 tokens.")
        client = self._http or httpx.AsyncClient(timeout=5.0)
        try:
            resp = await client.get(jwks_url, timeout=5.0)
            resp.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(resp.json()).keys
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("The identity provider's keys could not be loaded.") from exc
        finally:
            if self._http is None:
                await client.aclose()
        self._jwks = {k.key_id: k.key for k in keys}
        self._jwks_fetched = time.monotonic()

    async def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._cache.get(token)
        if cached and cached[0] > now:
            return cached[1]
        s = self._settings
        try:
            if _issuer_of(token) == GATEWAY_ISSUER:
                # An API-key caller: the gateway vouches with the internal secret,
                # whatever the identity provider's algorithm is.
                claims = jwt.decode(
                    token,
                    s.service_secret.get_secret_value(),
                    algorithms=["HS256"],
                    issuer=GATEWAY_ISSUER,
                    options={"require": ["sub", "exp", "iss"], "verify_aud": False},
                )
            else:
                key = await self._key_for(token)
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[s.jwt_algorithm],
                    audience=s.jwt_audience,
                    issuer=s.jwt_issuer,
                    options={"require": ["sub", "exp"], "verify_aud": s.jwt_audience is not None},
                )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.") from exc
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        principal = Principal(
            subject=str(claims["sub"]),
            org_unit_path=normalise_path(str(claims.get("org_unit_path") or "/")),
            roles=frozenset(r for r in roles if r in ROLES),
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (min(float(claims["exp"]), now + 300), principal)
        return principal


GATEWAY_ISSUER = "sanlun-gateway"


def _issuer_of(token: str) -> str | None:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None  # the real decode below says what is wrong


def mint_gateway_token(
    service_secret: str, *, subject: str, org_unit_path: str, roles: Iterable[str], ttl_seconds: int
) -> str:
    """The token the gateway puts on an API-key caller's downstream calls."""
    return mint_token(
        service_secret,
        subject=subject,
        org_unit_path=org_unit_path,
        roles=roles,
        ttl_seconds=ttl_seconds,
        issuer=GATEWAY_ISSUER,
    )


def mint_token(
    secret: str,
    *,
    subject: str,
    org_unit_path: str,
    roles: Iterable[str],
    ttl_seconds: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """Mint an HS256 development token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "org_unit_path": normalise_path(org_unit_path),
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def parse_bearer(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header value, or 401."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an `Authorization: Bearer <token>` header.")
    return token.strip()


def bearer_token(request: Request) -> str:
    return parse_bearer(request.headers.get("authorization", ""))


async def authenticate(request: Request) -> Principal:
    """Resolve (once per request) the caller's principal."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = await verifier.verify(bearer_token(request))
        if principal.is_service:
            raise Unauthorized("A service token is not accepted on public routes.")
        request.state.principal = principal
        principal_var.set(principal.subject)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_roles(principal: Principal, *roles: str) -> None:
    if not principal.has(*roles):
        raise Forbidden(f"This action needs one of the roles: {', '.join(roles)}.")


def path_within(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` is the org unit `prefix` or below it (uses a text_pattern_ops index)."""
    prefix = normalise_path(prefix)
    if prefix == "/":
        return true()
    # A literal pattern (not `prefix || '%'`) so the planner can use the index.
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == prefix, column.like(escaped + "/%", escape="\\"))


@dataclass(frozen=True, slots=True)
class VisibilityShape:
    """What a principal's visibility depends on, without who they are: every
    rep has the same shape, so a statement built for one shape serves them
    all with the employee id as a bound parameter (`EMPLOYEE_PARAM`)."""

    everything: bool = False
    employee: bool = False  # owns or is a member: `owner = :employee OR member`
    within: str | None = None  # an org unit seen whole (manager, org admin)


EMPLOYEE_PARAM = "principal_employee_id"


def visibility_shape(principal: Principal) -> VisibilityShape:
    if principal.has("group_admin"):
        return VisibilityShape(everything=True)
    within = None
    if principal.has("org_admin", "integrator"):
        within = principal.organization_path
    elif principal.has("manager"):
        within = principal.org_unit_path
    return VisibilityShape(employee=principal.employee_id is not None, within=within)


def shaped_visibility(
    shape: VisibilityShape,
    *,
    employee: Any,
    owner_column: Any,
    org_unit_column: Any,
    member_clause: ColumnElement[bool] | None = None,
) -> ColumnElement[bool]:
    """`visibility_clause` for a shape: `employee` is the employee id or a
    bound parameter standing for it."""
    if shape.everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if shape.employee:
        clauses.append(owner_column == employee)
        if member_clause is not None:
            clauses.append(member_clause)
    if shape.within is not None:
        clauses.append(path_within(org_unit_column, shape.within))
    if not clauses:
        return false()
    return or_(*clauses)


def visibility_clause(
    principal: Principal,
    *,
    owner_column: Any,
    org_unit_column: Any,
    member_clause: ColumnElement[bool] | None = None,
) -> ColumnElement[bool]:
    """The rows of a table this principal may see, per ARCHITECTURE.md.

    A rep sees what they own or are a member of; a manager also sees what is
    owned under their org unit; an org admin (and an integrator) their
    organisation; a group admin everything.
    """
    return shaped_visibility(
        visibility_shape(principal),
        employee=principal.employee_id,
        owner_column=owner_column,
        org_unit_column=org_unit_column,
        member_clause=member_clause,
    )


WIDENING_ROLES = ("manager", "org_admin", "integrator", "group_admin")


def sees_only_own(principal: Principal) -> bool:
    """An employee whose roles add nothing to what they own or are a member
    of: a rep. Their visibility is a handful of rows, best written as
    `id IN (own ids UNION member ids)`: the planner estimates an OR with a
    sub-select at half the table and walks it all for a rep with three deals."""
    return principal.employee_id is not None and not principal.has(*WIDENING_ROLES)


def can_see(principal: Principal, *, owner_id: uuid.UUID | None, org_unit_path: str, member: bool = False) -> bool:
    """The same rule as `visibility_clause`, for a record already in memory."""
    if principal.has("group_admin"):
        return True
    if (owner_id is not None and owner_id == principal.employee_id) or member:
        return True

    def within(prefix: str) -> bool:
        prefix = normalise_path(prefix)
        return prefix == "/" or org_unit_path == prefix or org_unit_path.startswith(prefix + "/")

    if principal.has("org_admin", "integrator"):
        return within(principal.organization_path)
    if principal.has("manager"):
        return within(principal.org_unit_path)
    return False
