import asyncio
import hashlib
import os
import re
import time
import uuid
from urllib.parse import urlsplit

from tests.support import auth, ensure_org_unit

ADMIN = auth(org_unit="/group", roles=("group_admin",))
PROBLEM = "application/problem+json"


def new_employee(org_unit: str, **extra: object) -> dict:
    return {"name": "Gao Wen", "email": f"gw+{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": org_unit, **extra}


async def new_org_unit(gw) -> str:
    """A fresh org unit, made: employees live only in existing units (issue 16)."""
    path = f"/group/gw-{uuid.uuid4().hex[:8]}"
    await ensure_org_unit(gw, path)
    return path


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def seen_header(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k == name]


async def raw_get(base_url: str, target: str, headers: dict[str, str]) -> str:
    """The status line for a request target sent byte for byte (httpx would fold `..`)."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = (await reader.readline()).decode()
    writer.close()
    await writer.wait_closed()
    return status


async def test_create_read_update_through_the_gateway(start_gateway, employee_service):
    gw = await start_gateway(employee_lifecycle=employee_service)
    created = await gw.post("/api/v1/employees", json=new_employee(await new_org_unit(gw), capacity=7), headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/api/v1/employees/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert body["capacity"] == 7

    got = await gw.get(created.headers["location"], headers=ADMIN)
    assert got.status_code == 200 and got.json() == body
    assert got.headers["etag"] == '"1"'
    assert got.headers["content-type"] == "application/json"

    patched = await gw.patch(got.request.url.path, json={"capacity": 3}, headers={**ADMIN, "If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["capacity"] == 3
    assert patched.headers["etag"] == '"2"'
    stale = await gw.patch(got.request.url.path, json={"capacity": 4}, headers={**ADMIN, "If-Match": '"1"'})
    assert assert_problem(stale, 412)["code"] == "precondition_failed"


async def test_visibility_answers_404_through_the_gateway(start_gateway, employee_service):
    gw = await start_gateway(employee_lifecycle=employee_service)
    created = (await gw.post("/api/v1/employees", json=new_employee(await new_org_unit(gw)), headers=ADMIN)).json()
    other_rep = auth(org_unit="/group/east/team-1", roles=("rep",))
    assert_problem(await gw.get(f"/api/v1/employees/{created['id']}", headers=other_rep), 404)


async def test_query_string_reaches_the_service(start_gateway, employee_service):
    gw = await start_gateway(employee_lifecycle=employee_service)
    org_unit = await new_org_unit(gw)
    wanted = (await gw.post("/api/v1/employees", json=new_employee(org_unit), headers=ADMIN)).json()
    await gw.post("/api/v1/employees", json=new_employee(org_unit), headers=ADMIN)
    # `+` and `@` arrive percent-encoded and must reach the service unchanged.
    listed = await gw.get("/api/v1/employees", params={"email": wanted["email"], "org_unit": org_unit}, headers=ADMIN)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["items"]] == [wanted["id"]]
    both = await gw.get("/api/v1/employees", params={"org_unit": org_unit, "limit": 1}, headers=ADMIN)
    assert len(both.json()["items"]) == 1 and both.json()["next_cursor"]
    invalid = await gw.get("/api/v1/employees", params={"limit": 1000}, headers=ADMIN)
    assert [e["loc"] for e in assert_problem(invalid, 422)["errors"]] == [["query", "limit"]]


async def test_request_id_goes_down_and_comes_back(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    given = await gw.get("/api/v1/accounts/a", headers={**ADMIN, "X-Request-ID": "gw-test-42"})
    assert given.headers.get_list("x-request-id") == ["gw-test-42"]
    assert seen_header(echo.seen[-1], "x-request-id") == ["gw-test-42"]

    made = await gw.get("/api/v1/accounts/b", headers=ADMIN)
    rid = made.headers.get_list("x-request-id")
    assert len(rid) == 1 and re.fullmatch(r"[0-9a-f]{32}", rid[0])
    assert seen_header(echo.seen[-1], "x-request-id") == rid


async def test_headers_pass_through_without_hop_by_hop_ones(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    token = ADMIN["Authorization"]
    response = await gw.get(
        "/api/v1/accounts/h",
        headers={
            "Authorization": token,
            "X-Custom": "kept",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Keep-Alive": "timeout=5",
        },
    )
    assert response.status_code == 200
    seen = echo.seen[-1]
    assert seen["method"] == "GET" and seen["raw_path"] == "/api/v1/accounts/h"
    assert seen_header(seen, "authorization") == [token]
    assert seen_header(seen, "x-custom") == ["kept"]
    assert seen_header(seen, "proxy-authorization") == [] and seen_header(seen, "keep-alive") == []
    assert seen_header(seen, "x-forwarded-for") == ["127.0.0.1"]
    assert seen_header(seen, "x-forwarded-proto") == ["http"]
    assert seen_header(seen, "x-forwarded-host") == [urlsplit(str(gw.base_url)).netloc]
    assert seen_header(seen, "host") == [urlsplit(echo.url).netloc]
    assert response.headers["x-upstream"] == "echo"
    assert response.headers["set-cookie"] == "echo=1; Path=/"
    # The service's banner is dropped and the gateway sends none; one Date.
    assert response.headers.get_list("server") == [] and len(response.headers.get_list("date")) == 1


async def test_no_headers_are_added_that_the_caller_did_not_send(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    status = await raw_get(str(gw.base_url), "/api/v1/accounts/plain", ADMIN)
    assert status.startswith("HTTP/1.1 200")
    # An added Accept-Encoding would get the caller a compressed body it cannot read.
    names = {k for k, _ in echo.seen[-1]["headers"]}
    assert names.isdisjoint({"accept-encoding", "accept", "user-agent", "content-type"})
    assert echo.seen[-1]["raw_path"] == "/api/v1/accounts/plain"


async def test_bodies_stream_both_ways(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    payload = os.urandom(300_000)

    async def chunked():
        for i in range(0, len(payload), 50_000):
            yield payload[i : i + 50_000]

    sent = await gw.post("/api/v1/accounts/upload?x=1", content=chunked(), headers=ADMIN)
    assert sent.status_code == 200
    assert sent.json()["body_len"] == len(payload)
    assert sent.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert sent.json()["query"] == "x=1"
    sized = await gw.post("/api/v1/accounts/upload", content=payload, headers=ADMIN)  # with Content-Length
    assert sized.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()

    small = await gw.put(
        "/api/v1/accounts/small", content=b'{"a": 1}', headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert small.json()["method"] == "PUT" and small.json()["body_len"] == 8

    streamed = await gw.get("/api/v1/accounts/download", params={"reply_bytes": 500_000}, headers=ADMIN)
    assert streamed.status_code == 200 and len(streamed.content) == 500_000
    assert streamed.content[:256] == bytes(range(256))


async def test_redirects_are_passed_on_not_followed(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    response = await gw.get("/api/v1/accounts/r", params={"redirect": 1}, headers=ADMIN)
    assert response.status_code == 307
    assert response.headers["location"] == "/api/v1/accounts/elsewhere"
    assert echo.paths()[-1] == "/api/v1/accounts/r"


async def test_missing_or_bad_token_is_refused_without_forwarding(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    before = len(echo.seen)
    missing = assert_problem(await gw.get("/api/v1/accounts"), 401)
    assert "Bearer" in missing["detail"]
    forged = await gw.get("/api/v1/accounts", headers=auth(secret="someone-elses-secret-0123456789abcdef"))
    assert assert_problem(forged, 401)["detail"] == "The token is not valid."
    assert forged.headers["www-authenticate"].startswith("Bearer")
    expired = await gw.get("/api/v1/accounts", headers=auth(ttl=-60))
    assert assert_problem(expired, 401)["detail"] == "The token has expired."
    assert_problem(await gw.get("/api/v1/accounts", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)
    assert_problem(await gw.post("/api/v1/accounts", json={"name": "x"}), 401)
    # Even a path nobody serves is not revealed without a token.
    assert_problem(await gw.get("/api/v1/nowhere"), 401)
    assert len(echo.seen) == before


async def test_unknown_paths_are_404_problems(start_gateway, echo):
    # Every service points at the echo server: anything routed would show up there.
    gw = await start_gateway(
        **dict.fromkeys(("opportunity", "employee_lifecycle", "key_account", "resource_share"), echo.url)
    )
    before = len(echo.seen)
    assert assert_problem(await gw.get("/nowhere"), 404)["detail"] == "No route matches /nowhere."
    assert_problem(await gw.get("/api/v1/nowhere", headers=ADMIN), 404)
    assert_problem(await gw.get("/api/v1/accountsx", headers=ADMIN), 404)
    assert_problem(await gw.post("/internal/events", json={}, headers=ADMIN), 404)
    assert_problem(await gw.get("/ops/outbox", headers=ADMIN), 404)
    assert len(echo.seen) == before


async def test_dot_segments_cannot_climb_out_of_a_prefix(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    before = len(echo.seen)
    status = await raw_get(str(gw.base_url), "/api/v1/accounts/../../../internal/events", ADMIN)
    assert status.startswith("HTTP/1.1 404")
    assert len(echo.seen) == before


async def test_closed_upstream_port_is_a_502_naming_the_service(start_gateway):
    gw = await start_gateway()  # every service at a closed port
    response = await gw.get("/api/v1/opportunities", headers=ADMIN)
    body = assert_problem(response, 502)
    assert body["service"] == "opportunity" and body["code"] == "upstream_unavailable"
    assert "opportunity" in body["detail"]
    assert response.headers["x-request-id"]


async def test_hanging_upstream_is_a_504_naming_the_service(start_gateway, silent):
    gw = await start_gateway(resource_share=silent.url, proxy_read_timeout_get_seconds=0.3)
    started = time.monotonic()
    response = await gw.get("/api/v1/resources", headers=ADMIN)
    elapsed = time.monotonic() - started
    body = assert_problem(response, 504)
    assert body["service"] == "resource_share" and body["code"] == "upstream_timeout"
    assert "resource_share" in body["detail"]
    assert 0.25 < elapsed < 5
    assert silent.writers, "the request reached the hanging upstream"


async def test_proxied_requests_are_counted_in_metrics(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    series = re.compile(
        r'^sanlun_http_requests_total\{method="GET",route="/api/v1/account-plans",'
        r'service="gateway",status="200"\} (\S+)$',
        re.MULTILINE,
    )

    async def count() -> float:
        match = series.search((await gw.get("/metrics", headers=ADMIN)).text)
        return float(match.group(1)) if match else 0.0

    before = await count()
    for i in range(3):
        assert (await gw.get(f"/api/v1/account-plans/{i}", headers=ADMIN)).status_code == 200
    assert await count() == before + 3
