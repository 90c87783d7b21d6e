import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import column, select, table
from sqlalchemy.dialects import postgresql

from sanlun.kernel.auth import Principal, TokenVerifier, can_see, sees_only_own, visibility_clause
from sanlun.kernel.errors import Unauthorized
from sanlun.kernel.settings import ProcessSettings


def rsa_key(kid: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return key, jwk


def rs256_token(key, kid: str, **claims) -> str:
    payload = {
        "sub": str(uuid.uuid4()),
        "org_unit_path": "/group/a",
        "roles": ["rep"],
        "exp": int(time.time()) + 60,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


class FakeIdentityProvider:
    """The identity provider is outside this project: served by a mock transport."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": self.keys})


async def test_rs256_with_jwks_and_key_rotation():
    idp = FakeIdentityProvider()
    key1, jwk1 = rsa_key("k1")
    idp.keys = [jwk1]
    settings = ProcessSettings(
        environment="production", jwt_algorithm="RS256", jwks_url="https://idp.example/jwks", service_secret="s" * 40
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.handler)) as http:
        verifier = TokenVerifier(settings, http)
        principal = await verifier.verify(rs256_token(key1, "k1", org_unit_path="/group/a/b"))
        assert principal.org_unit_path == "/group/a/b" and principal.roles == {"rep"}
        # Rotation: a token with a new kid makes the verifier fetch the keys again.
        key2, jwk2 = rsa_key("k2")
        idp.keys = [jwk1, jwk2]
        verifier._jwks_fetched = 0  # the refetch guard is time based; move past it
        assert (await verifier.verify(rs256_token(key2, "k2"))).roles == {"rep"}
        assert idp.fetches == 2
        # A token signed by a key the provider never published is refused.
        rogue, _ = rsa_key("k2")
        with pytest.raises(Unauthorized):
            await verifier.verify(rs256_token(rogue, "k2", sub=str(uuid.uuid4())))


async def test_hs256_rejects_wrong_algorithm_and_unknown_roles():
    settings = ProcessSettings(jwt_secret="a-secret-long-enough-for-hs256-0123")
    verifier = TokenVerifier(settings)
    key, _ = rsa_key("x")
    with pytest.raises(Unauthorized):
        await verifier.verify(rs256_token(key, "x"))
    token = jwt.encode(
        {"sub": "u", "exp": int(time.time()) + 60, "roles": ["rep", "emperor"]},
        "a-secret-long-enough-for-hs256-0123",
        algorithm="HS256",
    )
    assert (await verifier.verify(token)).roles == {"rep"}


def sql(clause) -> str:
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_visibility_clause_per_role():
    t = table("records", column("owner_id"), column("org_unit_path"))
    me = uuid.uuid4()

    def clause(*roles: str, path: str = "/group/east/team-1") -> str:
        p = Principal(subject=str(me), org_unit_path=path, roles=frozenset(roles))
        return sql(select(t).where(visibility_clause(p, owner_column=t.c.owner_id, org_unit_column=t.c.org_unit_path)))

    assert str(me) in clause("rep") and "LIKE" not in clause("rep")
    assert "LIKE '/group/east/team-1/%%'" in clause("manager")
    assert "LIKE '/group/east/%%'" in clause("org_admin")
    assert r"LIKE '/group/a\_b/%%'" in clause("manager", path="/group/a_b")
    assert "WHERE true" in clause("group_admin")


def test_can_see_matches_the_sql_rule():
    me = uuid.uuid4()
    rep = Principal(str(me), "/group/east/team-1", frozenset({"rep"}))
    manager = Principal(str(uuid.uuid4()), "/group/east", frozenset({"manager"}))
    west_admin = Principal(str(uuid.uuid4()), "/group/west/x", frozenset({"org_admin"}))
    assert can_see(rep, owner_id=me, org_unit_path="/group/east/team-1")
    assert not can_see(rep, owner_id=uuid.uuid4(), org_unit_path="/group/east/team-1")
    assert can_see(manager, owner_id=None, org_unit_path="/group/east/team-1")
    assert not can_see(manager, owner_id=None, org_unit_path="/group/eastern")
    assert not can_see(west_admin, owner_id=None, org_unit_path="/group/east/team-1")
    assert west_admin.organization_path == "/group/west"


async def test_gateway_api_key_tokens_verify_with_the_service_secret_even_under_rs256():
    from sanlun.kernel.auth import mint_gateway_token

    settings = ProcessSettings(
        environment="production", jwt_algorithm="RS256", jwks_url="https://idp.example/jwks", service_secret="s" * 40
    )
    verifier = TokenVerifier(settings)  # no JWKS fetch may happen for these
    token = mint_gateway_token(
        "s" * 40, subject="apikey:1", org_unit_path="/group/a", roles=["integrator"], ttl_seconds=60
    )
    principal = await verifier.verify(token)
    assert principal.subject == "apikey:1" and principal.roles == {"integrator"}
    forged = mint_gateway_token(
        "x" * 40, subject="apikey:1", org_unit_path="/group", roles=["group_admin"], ttl_seconds=60
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(forged)


def test_only_an_employee_without_widening_roles_sees_only_their_own():
    me = str(uuid.uuid4())
    assert sees_only_own(Principal(subject=me, org_unit_path="/group/east/team-1", roles=frozenset({"rep"})))
    assert sees_only_own(Principal(subject=me, org_unit_path="/group/east/team-1", roles=frozenset({"rep", "ops"})))
    for role in ("manager", "org_admin", "integrator", "group_admin"):
        assert not sees_only_own(Principal(subject=me, org_unit_path="/group/east", roles=frozenset({"rep", role})))
    assert not sees_only_own(Principal(subject="erp-sync", org_unit_path="/group/east", roles=frozenset({"rep"})))
