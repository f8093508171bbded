"""The sandbox's HTML pages: plain forms, no JavaScript, every value escaped."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from uma_desktop.sandbox.errors import NO_STORE

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d1f23}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}
input[type=text],input[type=password]{width:100%;padding:.45rem;box-sizing:border-box}
.buttons{margin-top:1.2rem;display:flex;gap:.6rem}button{padding:.5rem 1.1rem}
.error{color:#a4000f}.scopes li{font-family:monospace}.server{color:#5b606b;font-size:.9rem}
"""


def page(title: str, body: str, *, server_name: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · {escape(server_name)}</title>"
        f"<style>{_STYLE}</style></head><body><main>"
        f"<p class='server'>{escape(server_name)} (UMA Desktop sandbox)</p>"
        f"<h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    headers = {
        **NO_STORE,
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def error_page(message: str, *, server_name: str, status: int = 400) -> HTMLResponse:
    return page(
        "Something is wrong with this request",
        f"<p class='error'>{escape(message)}</p>",
        server_name=server_name,
        status=status,
    )


def login_form(
    *,
    server_name: str,
    title: str,
    action: str,
    interaction: str,
    purpose: str,
    scopes: list[str],
    error: str | None = None,
    username: str = "",
    extra_fields: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Sign-in and consent in one form: ``username``, ``password``, and Allow / Deny."""
    scope_items = "".join(f"<li>{escape(scope)}</li>" for scope in scopes)
    scope_list = f"<ul class='scopes'>{scope_items}</ul>" if scopes else ""
    hidden = "".join(
        f"<input type='hidden' name='{escape(name)}' value='{escape(value)}'>"
        for name, value in {"interaction": interaction, **(extra_fields or {})}.items()
    )
    error_html = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    body = (
        f"<p>{escape(purpose)}</p>{scope_list}{error_html}"
        f"<form method='post' action='{escape(action)}'>{hidden}"
        "<label for='username'>Username</label>"
        f"<input type='text' id='username' name='username' value='{escape(username)}' "
        "autocomplete='username' autofocus required>"
        "<label for='password'>Password</label>"
        "<input type='password' id='password' name='password' autocomplete='current-password' "
        "required>"
        "<div class='buttons'>"
        "<button type='submit' name='decision' value='allow' id='allow'>Sign in and allow</button>"
        "<button type='submit' name='decision' value='deny' id='deny' formnovalidate>Deny</button>"
        "</div></form>"
    )
    return page(title, body, server_name=server_name, status=status)


def with_retry_after(response: HTMLResponse, seconds: int) -> HTMLResponse:
    """``response`` with a Retry-After header (sign-in throttled, RFC 6585 §4)."""
    response.headers["Retry-After"] = str(seconds)
    return response


def device_code_form(
    *,
    server_name: str,
    action: str,
    interaction: str,
    user_code: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    error_html = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    body = (
        "<p>Enter the code shown on your device, then sign in to allow or deny it.</p>"
        f"{error_html}<form method='post' action='{escape(action)}'>"
        f"<input type='hidden' name='interaction' value='{escape(interaction)}'>"
        "<label for='user_code'>Code</label>"
        f"<input type='text' id='user_code' name='user_code' value='{escape(user_code)}' "
        "autocomplete='off' required>"
        "<label for='username'>Username</label>"
        "<input type='text' id='username' name='username' autocomplete='username' required>"
        "<label for='password'>Password</label>"
        "<input type='password' id='password' name='password' autocomplete='current-password' "
        "required>"
        "<div class='buttons'>"
        "<button type='submit' name='decision' value='allow' id='allow'>Sign in and allow</button>"
        "<button type='submit' name='decision' value='deny' id='deny'>Sign in and deny</button>"
        "</div></form>"
    )
    return page("Connect a device", body, server_name=server_name, status=status)


def message_page(title: str, message: str, *, server_name: str) -> HTMLResponse:
    return page(title, f"<p>{escape(message)}</p>", server_name=server_name)
