"""The gateway's `/openapi.json`, `/docs` (Swagger UI) and `/redoc`, served without building or fetching anything.

The merged spec is built by `sanlun openapi export`, not at run time (building
it imports every service: 6-12 s that blocked the event loop on the first
request). The export writes it next to this module as package data
(`gateway/openapi.json`, shipped in the wheel) and as the committed
`openapi/gateway.json`; `--check` fails when either drifts from the code. The
file's bytes are read once and served as they are (no JSON round trip).

Swagger UI's and ReDoc's JavaScript and CSS come from the `fastapi-offline`
package (its `static/` folder: swagger-ui-bundle.js, swagger-ui.css,
redoc.standalone.js, favicon.png) and are served under `/docs/assets/`, so
the pages work without Internet access; ReDoc's Google fonts are left out.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from sanlun.kernel.errors import ProblemError

PACKAGED_SPEC = Path(__file__).resolve().parent / "openapi.json"
OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

log = structlog.get_logger("sanlun.gateway.docs")


class SpecMissing(ProblemError):
    status, code, title = 500, "openapi_missing", "OpenAPI Spec Missing"


class PackagedSpec:
    """The exported spec's bytes, read on first use and kept (reading 1.3 MB takes about a millisecond)."""

    def __init__(self, path: Path = PACKAGED_SPEC) -> None:
        self.path = path
        self._bytes: bytes | None = None
        self._parsed: dict[str, Any] | None = None

    def content(self) -> bytes:
        if self._bytes is None:
            try:
                self._bytes = self.path.read_bytes()
            except FileNotFoundError:
                log.error("openapi_missing", path=str(self.path))
                raise SpecMissing(
                    f"{self.path.name} was not shipped with the gateway: run `sanlun openapi export`."
                ) from None
        return self._bytes

    def parsed(self) -> dict[str, Any]:
        """For in-process callers of `app.openapi()`."""
        if self._parsed is None:
            self._parsed = json.loads(self.content())
        return self._parsed


def install_docs(app: FastAPI, spec: PackagedSpec | None = None) -> None:
    """Serve the packaged spec and the offline docs. Build the app with
    `openapi_url=None, docs_url=None, redoc_url=None` (these replace FastAPI's)."""
    spec = spec or PackagedSpec()
    app.state.openapi_spec = spec
    app.openapi = spec.parsed  # type: ignore[method-assign]
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi_json() -> Response:
        return Response(spec.content(), media_type="application/json")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
