"""The sandbox's one app factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from uma_desktop import __version__
from uma_desktop.sandbox import (
    demo_rs,
    routes_claims,
    routes_oauth,
    routes_owner,
    routes_protection,
    routes_support,
)
from uma_desktop.sandbox.core import Sandbox
from uma_desktop.sandbox.web import MAX_BODY_BYTES, BodyLimitMiddleware, install_error_handlers

DESCRIPTION = """A small, spec-faithful UMA 2.0 authorization server for demos and tests:
OAuth 2.0 / OpenID Connect, the UMA grant, the Federated Authorization protection API, and
the owner API (UMA WG Policy Manager draft v0.1 plus the UMA Desktop extension, see
docs/owner-api.md). Errors are OAuth-style JSON. Request bodies are limited to 1 MiB."""


def create_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(
        title=f"{sandbox.name} — UMA Desktop sandbox",
        version=__version__,
        description=DESCRIPTION,
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    app.state.demo_servers = demo_rs.runtimes(sandbox)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    for module in (
        routes_oauth,
        routes_protection,
        routes_claims,
        routes_owner,
        routes_support,
        demo_rs,
    ):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
