"""Redaction for the protocol trace: secrets become ``‹kind abcde…›`` as an exchange arrives.

What is redacted (anywhere it appears: headers, URL query and fragment, URL user-info,
form bodies, JSON bodies, HTML ``<input>`` values and links, plain text):

* header values of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  ``DPoP`` and any ``*-Token`` / ``*-Key`` / ``*-Secret`` header; the ``ticket`` of a
  ``WWW-Authenticate: UMA`` challenge (the realm and ``as_uri`` stay visible);
* parameters and JSON members named by :mod:`uma_desktop.uma.secret_names` (the same
  vocabulary the log filter uses): :data:`SECRET_KEYS`, names ending in ``_token``,
  ``_secret``, ``_password``, ``_code`` or ``_verifier`` (``token_type`` or
  ``claim_token_format`` are descriptive, not secret, and stay);
* any string that looks like a JWT, wherever it is;
* any value already seen in a secret position, when it turns up again elsewhere.

A redacted value reads ``‹kind abcde…›``: the kind of secret and, for long random values
only, its first five characters (eight from 32 characters on) so a demoer can follow one
ticket or token from message to message. Passwords, client secrets and PKCE verifiers never
show any character.
"""

# ruff: noqa: RUF001, RUF002 -- the angle quotes marking redacted values are deliberate
from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

from uma_desktop.uma.secret_names import SECRET_KEYS, is_secret_header, is_secret_key

_NO_PREFIX_KINDS = frozenset(
    {"password", "passwd", "client_secret", "secret", "code_verifier", "private_key", "credentials"}
)

PREFIX_CHARS = 5
LONG_PREFIX_CHARS = 8  # for values of _LONG_VALUE characters or more
_LONG_VALUE = 32
_MIN_LEN_FOR_PREFIX = 16
_MIN_LEARNED_LEN = 6
_MAX_LEARNED = 4096
_MAX_ODD = 64
_RUN_RE = re.compile(r"[A-Za-z0-9_~.+/-]{6,}")  # a token-like run: base64(url), JWT, hex
MAX_BODY_CHARS = 64 * 1024

_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_REDACTED_RE = re.compile(r"‹[^‹›]*›")


def mask(kind: str, value: str) -> str:
    """The placeholder shown instead of ``value``: ``‹kind abcde…›`` or ``‹kind›``."""
    kind = kind.lower()
    if value and len(value) >= _MIN_LEN_FOR_PREFIX and kind not in _NO_PREFIX_KINDS:
        # Long values often start with a fixed type tag ("tkt-", "eyJhbGci"): show a bit more.
        shown = PREFIX_CHARS if len(value) < _LONG_VALUE else LONG_PREFIX_CHARS
        return f"‹{kind} {value[:shown]}…›"
    return f"‹{kind}›"


class Redactor:
    """Redacts one exchange's parts; remembers secret values to catch them elsewhere later.

    The remembered values live only in memory, bounded, and only to redact them.
    """

    def __init__(self) -> None:
        # Token-like values (the usual case) are found by a hash lookup of each run of token
        # characters in a text; the rare value with other characters (a password with a
        # space) is searched for directly.
        self._learned: OrderedDict[str, str] = OrderedDict()  # value -> kind
        self._odd: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- learned values ------------------------------------------------------------------

    def learn(self, value: str, kind: str) -> None:
        """Treat ``value`` as a secret of ``kind`` wherever it appears from now on."""
        value = value.rstrip("=")  # base64 padding is not part of a run
        if len(value) < _MIN_LEARNED_LEN or _REDACTED_RE.fullmatch(value):
            return
        with self._lock:
            if not _RUN_RE.fullmatch(value):
                if len(self._odd) < _MAX_ODD:
                    self._odd[value] = kind.lower()
                return
            if value in self._learned:
                self._learned.move_to_end(value)
                return
            self._learned[value] = kind.lower()
            while len(self._learned) > _MAX_LEARNED:
                self._learned.popitem(last=False)

    def _scrub_learned(self, text: str) -> str:
        with self._lock:
            if not self._learned and not self._odd:
                return text
            odd = list(self._odd.items())

        def replace(match: re.Match[str]) -> str:
            run = match.group(0)
            with self._lock:
                kind = self._learned.get(run)
            return run if kind is None else mask(kind, run)

        text = _RUN_RE.sub(replace, text)
        for value, kind in odd:
            if value in text:
                text = text.replace(value, mask(kind, value))
        if "%" in text:
            text = self._scrub_encoded(text)
        return text

    def _scrub_encoded(self, text: str) -> str:
        """Secrets that appear percent-encoded (``%2F`` in a standard-base64 value)."""
        decoded = unquote_plus(text)
        if decoded == text:
            return text
        found: dict[str, str] = {}
        with self._lock:
            for run in _RUN_RE.findall(decoded):
                kind = self._learned.get(run)
                if kind is not None:
                    found[run] = kind
        for value, kind in found.items():
            for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
                text = text.replace(encoded, mask(kind, value))
        return text

    def _secret(self, kind: str, value: str) -> str:
        if _REDACTED_RE.fullmatch(value) or not value:
            return value
        self.learn(value, kind)
        return mask(kind, value)

    # -- building blocks -----------------------------------------------------------------

    def text(self, text: str) -> str:
        """Free text: JWTs, secret ``key=value`` pairs and JSON members, learned values."""
        text = _JWT_RE.sub(lambda m: self._secret("jwt", m.group(0)), text)
        text = _PAIR_RE.sub(self._pair, text)
        text = _JSON_MEMBER_RE.sub(self._json_member, text)
        text = _HTML_INPUT_RE.sub(self._html_input, text)
        return self._scrub_learned(text)

    def _pair(self, match: re.Match[str]) -> str:
        key, value = match.group("key"), match.group("value")
        if not is_secret_key(unquote(key)):
            return match.group(0)
        return f"{match.group('lead')}{key}={self._secret(unquote(key), unquote(value))}"

    def _json_member(self, match: re.Match[str]) -> str:
        key = match.group("key")
        if not is_secret_key(key):
            return match.group(0)
        return f'{match.group("head")}"{self._secret(key, match.group("value"))}"'

    def _html_input(self, match: re.Match[str]) -> str:
        tag = match.group(0)
        name = _HTML_NAME_RE.search(tag)
        if name is None or not is_secret_key(name.group("v")):
            return tag
        kind = name.group("v")
        return _HTML_VALUE_RE.sub(
            lambda v: (
                f"{v.group('head')}{v.group('q')}{self._secret(kind, v.group('v'))}{v.group('q')}"
            ),
            tag,
        )

    def url(self, url: str) -> str:
        """A URL with secret query/fragment parameters and any user-info password redacted."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            netloc = (
                f"{user}:{self._secret('password', unquote(password))}@{hostport}"
                if sep
                else netloc
            )
        query = self._query(parts.query)
        fragment = self._query(parts.fragment) if "=" in parts.fragment else parts.fragment
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
        return self._scrub_learned(rebuilt)

    def _query(self, query: str) -> str:
        """``a=1&b=2`` with secret values masked; everything else kept byte for byte."""
        if not query:
            return query
        pieces = []
        for piece in query.split("&"):
            key, sep, value = piece.partition("=")
            plain_key = unquote(key.replace("+", " "))
            if sep and is_secret_key(plain_key):
                pieces.append(f"{key}={self._secret(plain_key, unquote(value.replace('+', ' ')))}")
            else:
                pieces.append(self._nested(key, sep, value))
        return "&".join(pieces)

    def _nested(self, key: str, sep: str, value: str) -> str:
        """A non-secret parameter whose value may itself be an encoded URL or query."""
        decoded = unquote(value.replace("+", " "))
        if decoded == value:
            return self.text(f"{key}{sep}{value}")
        inner = self.url(decoded) if "?" in decoded or "#" in decoded else self._query(decoded)
        if inner == decoded:
            return self.text(f"{key}{sep}{value}")
        # Keep it readable but unambiguous inside the outer query.
        escaped = inner.replace("%", "%25").replace("&", "%26").replace("#", "%23")
        return f"{key}{sep}{escaped.replace(' ', '%20')}"

    def form(self, body: str) -> str:
        return self._query(body.strip())

    def json_value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.json_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v, key) for v in value]
        if isinstance(value, str):
            if key is not None and is_secret_key(key):
                return self._secret(key, value)
            if value.startswith(("http://", "https://")):
                return self.url(value)
            return self.text(value)
        return value  # numbers and booleans: OAuth never sends a secret as one

    def header(self, name: str, value: str) -> str:
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            return self._authorization(value)
        if lower == "cookie":
            return "; ".join(self._cookie_pair(p) for p in value.split(";") if p.strip())
        if lower == "set-cookie":
            first, sep, attributes = value.partition(";")
            return self._cookie_pair(first) + (sep + attributes if sep else "")
        if lower == "www-authenticate":
            return _AUTH_PARAM_RE.sub(self._auth_param, value)
        if lower in ("location", "content-location", "referer", "link"):
            return self.url(value) if lower != "link" else self.text(value)
        if is_secret_header(name):
            return self._secret(lower, value)
        return self.text(value)

    def _authorization(self, value: str) -> str:
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        if not credentials:
            return self._secret("credentials", scheme)
        if scheme.lower() == "basic":
            return f"{scheme} {self._basic(credentials)}"
        kind = "jwt" if _JWT_RE.fullmatch(credentials) else "access_token"
        return f"{scheme} {self._secret(kind, credentials)}"

    def _basic(self, credentials: str) -> str:
        self.learn(credentials, "credentials")
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return mask("credentials", credentials)
        user, _, secret = decoded.partition(":")
        self._secret("client_secret", unquote(secret))
        self._secret("client_secret", secret)
        return f"‹credentials {unquote(user)}:‹client_secret››"

    def _cookie_pair(self, pair: str) -> str:
        name, sep, value = pair.strip().partition("=")
        if not sep:
            return self._secret("cookie", name)
        return f"{name}={self._secret('cookie', value)}"

    def _auth_param(self, match: re.Match[str]) -> str:
        key = match.group("key")
        if not is_secret_key(key) and key.lower() != "error_uri":
            return match.group(0)
        value = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
        if key.lower() == "error_uri":
            return f'{key}="{self.url(value)}"'
        return f'{key}="{self._secret(key, value)}"'

    def body(self, raw: bytes, content_type: str) -> str:
        """A body as display text, redacted according to its content type."""
        if not raw:
            return ""
        text = raw[:MAX_BODY_CHARS].decode("utf-8", errors="replace")
        truncated = len(raw) > MAX_BODY_CHARS
        ctype = content_type.split(";")[0].strip().lower()
        result: str
        if "json" in ctype or (not ctype and text.lstrip()[:1] in ("{", "[")):
            try:
                parsed = json.loads(text)
            except ValueError:
                result = self.text(text)
            else:
                result = json.dumps(self.json_value(parsed), indent=2, ensure_ascii=False)
        elif ctype == "application/x-www-form-urlencoded":
            result = self.form(text)
        elif ctype.startswith(("text/", "application/xml", "application/xhtml")) or not ctype:
            result = self.text(text)
        else:
            result = f"[{len(raw)} bytes of {ctype}]"
            truncated = False
        result = self._scrub_learned(result)
        return result + ("\n[… truncated]" if truncated else "")


_PAIR_RE = re.compile(
    r"(?P<lead>(?:^|[?&;#\s\"'(]))(?P<key>[A-Za-z_][\w.%-]*)=(?P<value>[^&\s\"'<>#;)]+)"
)
_JSON_MEMBER_RE = re.compile(
    r'(?P<head>"(?P<key>[A-Za-z_][\w-]*)"\s*:\s*)"(?P<value>(?:[^"\\]|\\.)*)"'
)
_HTML_INPUT_RE = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_HTML_NAME_RE = re.compile(r"""\bname\s*=\s*(["']?)(?P<v>[^"'\s>]+)\1""", re.IGNORECASE)
_HTML_VALUE_RE = re.compile(
    r"""(?P<head>\bvalue\s*=\s*)(?P<q>["'])(?P<v>.*?)(?P=q)""", re.IGNORECASE | re.DOTALL
)
_AUTH_PARAM_RE = re.compile(
    r"""(?P<key>[A-Za-z_][\w-]*)\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s,"]+))"""
)


__all__ = [
    "MAX_BODY_CHARS",
    "SECRET_KEYS",
    "Redactor",
    "is_secret_header",
    "is_secret_key",
    "mask",
]
