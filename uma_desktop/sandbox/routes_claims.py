"""Claims interaction endpoint (UMA Grant §3.3.2): the requesting party signs in so the
server learns who they are, then returns to the client with a new ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from uma_desktop.sandbox import pages
from uma_desktop.sandbox.core import Sandbox, redirect_uri_matches
from uma_desktop.sandbox.errors import OAuthError
from uma_desktop.sandbox.store import digest, loads
from uma_desktop.sandbox.throttle import SignInRefused
from uma_desktop.sandbox.uma_grant import consume_ticket, continue_ticket
from uma_desktop.sandbox.web import (
    SandboxDep,
    client_address,
    redirect,
    require_form,
    with_query,
)

router = APIRouter(tags=["uma"])


@router.get("/claims", response_class=HTMLResponse)
def claims_interaction(
    sandbox: SandboxDep,
    client_id: Annotated[str | None, Query(max_length=256)] = None,
    ticket: Annotated[str | None, Query(max_length=512)] = None,
    claims_redirect_uri: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Show the requesting party a sign-in form for the ticket's authorization process."""
    client = sandbox.client(client_id) if client_id else None
    if client is None:
        return pages.error_page("Unknown client_id.", server_name=sandbox.name)
    registered = client.claims_redirect_uris
    target = claims_redirect_uri or (registered[0] if len(registered) == 1 else None)
    if target is None or not redirect_uri_matches(registered, target):
        return pages.error_page(
            "The claims_redirect_uri is missing or not registered.", server_name=sandbox.name
        )
    row = sandbox.store.one("SELECT * FROM tickets WHERE hash = ?", (digest(ticket or ""),))
    if row is None or row["used"] or row["exp"] <= sandbox.now():
        return redirect(
            with_query(
                target,
                {
                    "error": "invalid_request",
                    "error_description": "The ticket is unknown, used or expired.",
                    "state": state,
                },
            )
        )
    interaction = sandbox.start_interaction(
        "claims",
        {
            "client_id": client.client_id,
            "ticket_hash": row["hash"],
            "redirect": target,
            "state": state,
        },
    )
    names = [
        res["name"] or res["id"]
        for p in loads(row["permissions"])
        if (
            res := sandbox.store.one(
                "SELECT id, name FROM resources WHERE id = ?", (p["resource_id"],)
            )
        )
    ]
    return pages.login_form(
        server_name=sandbox.name,
        title="Who is asking?",
        action="/claims/login",
        interaction=interaction,
        purpose=f"{client.name} asks for access on your behalf. Sign in so the owner knows "
        "who you are. Resources:",
        scopes=names,
    )


class ClaimsForm(BaseModel):
    interaction: str = Field(max_length=256)
    username: str = Field(default="", max_length=256)
    password: str = Field(default="", max_length=1024)
    decision: str = Field(default="allow", max_length=16)


def _claims_form_again(sandbox: Sandbox, form: ClaimsForm, error: str, status: int) -> HTMLResponse:
    return pages.login_form(
        server_name=sandbox.name,
        title="Who is asking?",
        action="/claims/login",
        interaction=form.interaction,
        purpose="Sign in so the owner knows who you are.",
        scopes=[],
        error=error,
        username=form.username,
        status=status,
    )


@router.post("/claims/login", response_class=HTMLResponse, dependencies=[Depends(require_form)])
def claims_login(
    sandbox: SandboxDep, request: Request, form: Annotated[ClaimsForm, Form()]
) -> Response:
    """Check the password, then redirect to the client's claims_redirect_uri with a new ticket."""
    data = sandbox.peek_interaction(form.interaction, "claims")
    if data is None:
        return pages.error_page(
            "This page has expired or was already used.", server_name=sandbox.name
        )
    if form.decision == "deny":
        sandbox.finish_interaction(form.interaction)
        return redirect(
            with_query(data["redirect"], {"error": "access_denied", "state": data["state"]})
        )
    try:
        user = sandbox.authenticate_user(form.username, form.password, client_address(request))
    except SignInRefused as refused:
        return pages.with_retry_after(
            _claims_form_again(sandbox, form, refused.message, 429), refused.retry_after
        )
    if user is None:
        return _claims_form_again(sandbox, form, "Wrong username or password.", 400)
    sandbox.finish_interaction(form.interaction)
    try:
        row = consume_ticket(sandbox, data["ticket_hash"])
    except OAuthError as exc:
        return redirect(
            with_query(
                data["redirect"],
                {
                    "error": "invalid_request",
                    "error_description": exc.description,
                    "state": data["state"],
                },
            )
        )
    new = continue_ticket(sandbox, row, rqp_sub=user["sub"], client_id=data["client_id"])
    return redirect(with_query(data["redirect"], {"ticket": new, "state": data["state"]}))
