"""What the edge says (issue 16): security headers on every answer of the
gateway, proxied, errored and unknown ones included, once each; and failed
authentication limited per client address, with 429 and `Retry-After`, until
the window ends."""

from __future__ import annotations

import asyncio
import math

from sanlun.kernel.context import SECURITY_HEADERS
from tests.support import auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))
BAD = {"Authorization": "Bearer not-a-token"}
EXPECTED = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}


def assert_secure(response, cache_control: str = "no-store") -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code, response.headers)
    assert response.headers.get_list("cache-control") == [cache_control], response.headers
    assert "strict-transport-security" not in response.headers


async def test_every_kind_of_answer_carries_the_security_headers(start_gateway, employee_service, silent):
    gw = await start_gateway(
        employee_lifecycle=employee_service, key_account=silent.url, proxy_read_timeout_get_seconds=1.0
    )
    answers = {
        # proxied from a service that sets the same headers itself: once each
        "proxied": await gw.get("/api/v1/employees", headers=ADMIN),
        "proxied 404": await gw.get("/api/v1/employees/00000000-0000-0000-0000-000000000000", headers=ADMIN),
        "proxied 422": await gw.post("/api/v1/employees", json={}, headers=ADMIN),
        "401": await gw.get("/api/v1/employees"),
        "401 bad token": await gw.get("/api/v1/employees", headers=BAD),
        "404 unknown path": await gw.get("/nowhere"),
        "404 unrouted": await gw.get("/internal/events"),
        "502 unreachable": await gw.get("/api/v1/opportunities", headers=ADMIN),
        "504 hung": await gw.get("/api/v1/accounts", headers=ADMIN),
        "413": await gw.post("/api/v1/employees", content=b"x" * 2_000_000, headers=ADMIN),
        "405": await gw.delete("/health"),
        "own route": await gw.get("/api/v1/api-keys", headers=ADMIN),
        "health": await gw.get("/health/live"),
        "docs": await gw.get("/docs"),
    }
    expected_status = {
        "proxied": 200,
        "proxied 404": 404,
        "proxied 422": 422,
        "401": 401,
        "401 bad token": 401,
        "404 unknown path": 404,
        "404 unrouted": 404,
        "502 unreachable": 502,
        "504 hung": 504,
        "413": 413,
        "405": 405,
        "own route": 200,
        "health": 200,
        "docs": 200,
    }
    assert {k: r.status_code for k, r in answers.items()} == expected_status
    for response in answers.values():
        assert_secure(response)


async def test_hsts_only_when_configured(start_gateway, employee_service):
    plain = await start_gateway(employee_lifecycle=employee_service)
    assert "strict-transport-security" not in (await plain.get("/health/live")).headers
    gw = await start_gateway(employee_lifecycle=employee_service, hsts_max_age_seconds=31536000)
    for response in (
        await gw.get("/health/live"),
        await gw.get("/api/v1/employees", headers=ADMIN),  # proxied
        await gw.get("/api/v1/employees"),  # 401
    ):
        assert response.headers.get_list("strict-transport-security") == ["max-age=31536000"]


# --- failed authentication, limited per address ------------------------------------


def assert_limited(response, window: float) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "too_many_auth_failures"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= math.ceil(window)
    assert_secure(response)
    return retry_after


async def test_repeated_bad_credentials_get_429_until_the_window_ends(start_gateway, echo):
    window = 1.5
    gw = await start_gateway(key_account=echo.url, auth_failure_limit=4, auth_failure_window_seconds=window)
    assert (await gw.get("/api/v1/accounts", headers=ADMIN)).status_code == 200
    refused = [
        await gw.get("/api/v1/accounts", headers=BAD),
        await gw.get("/api/v1/accounts", headers=auth(org_unit="/group", roles=("group_admin",), ttl=-10)),
        await gw.get("/api/v1/accounts", headers={"X-API-Key": "sk_live_not_a_real_key_0123456789abcdef"}),
        await gw.get("/api/v1/accounts"),
    ]
    assert [r.status_code for r in refused] == [401] * 4
    seen = len(echo.seen)
    assert_limited(await gw.get("/api/v1/accounts", headers=BAD), window)
    # The address is refused whatever it sends now: credentials are not looked at.
    assert_limited(await gw.get("/api/v1/accounts", headers=ADMIN), window)
    assert_limited(await gw.get("/api/v1/api-keys", headers=ADMIN), window)
    assert_limited(await gw.get("/metrics", headers=ADMIN), window)
    assert len(echo.seen) == seen
    # Probes without credentials still answer.
    assert (await gw.get("/health/ready")).status_code == 200
    await asyncio.sleep(window + 0.1)
    assert (await gw.get("/api/v1/accounts", headers=ADMIN)).status_code == 200
    assert (await gw.get("/api/v1/accounts", headers=BAD)).status_code == 401


async def test_bad_tokens_on_the_gateways_own_credential_routes_count_too(start_gateway):
    gw = await start_gateway(auth_failure_limit=3, auth_failure_window_seconds=30)
    for path in ("/metrics", "/health", "/health/ready"):
        assert (await gw.get(path, headers=BAD)).status_code == 401
    assert_limited(await gw.get("/metrics", headers=BAD), 30)
    assert_limited(await gw.get("/api/v1/accounts", headers=ADMIN), 30)


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(start_gateway, echo):
    def client(address: str, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "X-Forwarded-For": address}

    # Without trusted proxies the header is the caller's word: changing it escapes nothing.
    gw = await start_gateway(key_account=echo.url, auth_failure_limit=2, auth_failure_window_seconds=30)
    for i in range(2):
        assert (await gw.get("/api/v1/accounts", headers=client(f"203.0.113.{i}", BAD))).status_code == 401
    assert_limited(await gw.get("/api/v1/accounts", headers=client("203.0.113.9", ADMIN)), 30)

    # Behind a trusted proxy each client counts on its own.
    gw = await start_gateway(
        key_account=echo.url, auth_failure_limit=2, auth_failure_window_seconds=30, trusted_proxies=["127.0.0.1"]
    )
    for _ in range(2):
        assert (await gw.get("/api/v1/accounts", headers=client("203.0.113.5", BAD))).status_code == 401
    assert_limited(await gw.get("/api/v1/accounts", headers=client("203.0.113.5", ADMIN)), 30)
    assert (await gw.get("/api/v1/accounts", headers=client("203.0.113.6", ADMIN))).status_code == 200
    # A client cannot pose as another by writing the header itself: the proxy appends the real one.
    spoofed = client("203.0.113.6, 203.0.113.5", ADMIN)
    assert_limited(await gw.get("/api/v1/accounts", headers=spoofed), 30)


async def test_the_limit_can_be_turned_off(start_gateway):
    gw = await start_gateway(auth_failure_limit=0)
    assert [(await gw.get("/api/v1/accounts", headers=BAD)).status_code for _ in range(30)] == [401] * 30
