"""Server-side sessions (cookie `hotspot_session`, data in the "sessions" store: Redis when set).

Litestar's server-side backend keeps whatever id the browser's cookie names, so a session id
planted before sign-in would survive it (session fixation). `RotatingSessionConfig` adds one
thing: a handler calls `rotate_session(request)` and the response stores the session under a
fresh id, deletes the old one from the store and sends the new cookie. Sign-in, 2FA enrolment,
a password change and "log out everywhere" rotate.

It also keeps requests authenticated by `Authorization: Bearer` out of the store: scripts
carry no cookie, and would otherwise leave an empty session behind on every call.

An admin's part of the session is one key, `admin`: {id, gen, login_at, seen_at}; the portal
keeps its own keys beside it (hotspot.portal.session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

__all__ = [
    "ADMIN_KEY",
    "RotatingSessionBackend",
    "RotatingSessionConfig",
    "admin_session",
    "end_admin_session",
    "rotate_session",
    "start_admin_session",
    "update_admin_session",
]

ADMIN_KEY = "admin"
_ROTATE = "hotspot.session.rotate"
_NEW_ID = "hotspot.session.new_id"


def _state(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    return state


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Store this request's session under a new id when the response goes out."""
    _state(connection)[_ROTATE] = True


def admin_session(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any] | None:
    session = connection.scope.get("session")
    if not isinstance(session, dict):
        return None
    data = session.get(ADMIN_KEY)
    return data if isinstance(data, dict) else None


def start_admin_session(connection: ASGIConnection[Any, Any, Any, Any], data: dict[str, Any]) -> None:
    """Sign-in: a brand-new session (nothing carried over from before) under a new id."""
    connection.set_session({ADMIN_KEY: data})
    rotate_session(connection)


def update_admin_session(connection: ASGIConnection[Any, Any, Any, Any], data: dict[str, Any]) -> None:
    session = connection.scope.get("session")
    merged = dict(session) if isinstance(session, dict) else {}
    merged[ADMIN_KEY] = data
    connection.set_session(merged)


def end_admin_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Sign-out: the whole session is deleted from the store and the cookie cleared."""
    connection.clear_session()


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = _state(connection).get(_NEW_ID)
        return str(new_id) if new_id else super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = _state(connection)
        incoming = connection.cookies.get(self.config.key)
        if (
            (scope_session is Empty or not scope_session)
            and not state.get(_ROTATE)
            and incoming in (None, "null")
        ):
            return  # nothing to keep: an anonymous visit must not leave an empty session in the store
        if state.get(_ROTATE) and not state.get(_NEW_ID):
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            state[_NEW_ID] = self.generate_session_id()
        elif _bearer(connection) and not connection.cookies.get(self.config.key):
            return  # an API token call: no session to keep
        await super().store_in_message(scope_session, message, connection)


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.headers.get("authorization", "").lower().startswith("bearer ")


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    """ServerSideSessionConfig whose backend can rotate the session id (see module docstring)."""

    _backend_class = RotatingSessionBackend
