"""The MikroTik login redirect: what the router tells the portal about the device, checked and kept.

The router's login.html sends the browser to /portal with `mac`, `ip`, `username`, `link-login`,
`link-login-only`, `link-orig`, `error`, `chap-id`, `chap-challenge`, `server-name` and
`identity` (research/mikrotik-radius.md §3). Every value is the visitor's to forge, so each is
checked and a bad one is dropped, never an error: the page still works, it only knows less.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from hotspot.addresses import normalize_mac, parse_ip
from hotspot.portal.chap import unescape_octal

__all__ = [
    "PARAMS",
    "RouterRedirect",
    "parse_redirect",
    "parse_url",
]

# query name -> attribute
PARAMS = {
    "mac": "mac",
    "ip": "ip",
    "username": "username",
    "link-login": "link_login",
    "link-login-only": "link_login_only",
    "link-orig": "link_orig",
    "error": "error",
    "chap-id": "chap_id",
    "chap-challenge": "chap_challenge",
    "server-name": "server_name",
    "identity": "identity",
    "router": "router",
}

_NAME = re.compile(r"^[\w][\w .:@()/-]{0,63}$")
_USERNAME = re.compile(r"^[\x21-\x7e]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_url(value: str | None, *, max_length: int = 500) -> str | None:
    """An absolute http(s) URL of bounded length, without control characters or credentials."""
    if not value:
        return None
    return _parse_url(value.strip(), max_length)


@lru_cache(maxsize=1024)
def _parse_url(value: str, max_length: int) -> str | None:
    """Cached: every phone behind a router sends the same login link, and most the same few
    connectivity-check URLs as where they were going."""
    if len(value) > max_length or _CONTROL.search(value) or " " in value:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or (port is not None and port <= 0):
        return None
    return value


def _text(value: str | None, max_length: int) -> str | None:
    """Free text for display (the router's error): control characters out, bounded, trimmed."""
    if not value:
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text[:max_length] or None


def _chap(chap_id: str | None, challenge: str | None) -> tuple[str | None, str | None]:
    """Both or neither: values that cannot be read as RouterOS literals are dropped together."""
    if not chap_id or not challenge or len(chap_id) > 64 or len(challenge) > 512:
        return None, None
    try:
        if len(unescape_octal(chap_id)) != 1 or not unescape_octal(challenge):
            return None, None
    except ValueError:
        return None, None
    return chap_id, challenge


@dataclass(frozen=True)
class RouterRedirect:
    """What the router said about the device; every field already checked (None when not given)."""

    mac: str | None = None
    ip: str | None = None
    username: str | None = None
    link_login: str | None = None
    link_login_only: str | None = None
    link_orig: str | None = None
    error: str | None = None
    chap_id: str | None = None
    chap_challenge: str | None = None
    server_name: str | None = None
    identity: str | None = None
    router: str | None = None

    @property
    def router_hint(self) -> str | None:
        """Which router the device is behind, for placement: `router`, else the router's identity."""
        return self.router or self.identity

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in _FIELDS)

    def as_query(self) -> dict[str, str]:
        """The values under the router's query names (what parse_redirect reads back)."""
        values = ((name, getattr(self, attribute)) for name, attribute in PARAMS.items())
        return {name: value for name, value in values if value is not None}

    def as_session(self) -> dict[str, str]:
        values = ((name, getattr(self, name)) for name in _FIELDS)  # asdict deep-copies: 10x slower
        return {name: value for name, value in values if value is not None}

    @classmethod
    def from_session(cls, data: Any) -> RouterRedirect:
        if not isinstance(data, Mapping):
            return cls()
        return cls(**{k: str(v) for k, v in data.items() if k in _FIELDS and isinstance(v, str) and v})


_FIELDS = tuple(f.name for f in fields(RouterRedirect))


def parse_redirect(query: Mapping[str, str]) -> RouterRedirect:
    """Read the router's query parameters; anything malformed is dropped."""

    def get(name: str) -> str | None:
        value = query.get(name)
        return value if isinstance(value, str) and value.strip() else None

    chap_id, chap_challenge = _chap(get("chap-id"), get("chap-challenge"))
    username = get("username")
    server_name, identity, router = (_name(get(key)) for key in ("server-name", "identity", "router"))
    return RouterRedirect(
        mac=normalize_mac(get("mac"), dotted=True),
        ip=parse_ip(get("ip")),
        username=username.strip() if username and _USERNAME.match(username.strip()) else None,
        link_login=parse_url(get("link-login"), max_length=500),
        link_login_only=parse_url(get("link-login-only"), max_length=300),
        link_orig=parse_url(get("link-orig"), max_length=500),
        error=_text(get("error"), 200),
        chap_id=chap_id,
        chap_challenge=chap_challenge,
        server_name=server_name,
        identity=identity,
        router=router,
    )


def _name(value: str | None) -> str | None:
    """A router's or hotspot server's name, as RouterOS allows them."""
    return value.strip() if value and _NAME.match(value.strip()) else None


def has_redirect_params(query: Mapping[str, str]) -> bool:
    """Did the router send this visit (any of its parameters present)?"""
    return any(name in query for name in PARAMS)
