"""What the portal remembers per browser (server-side session, cookie `hotspot_session`).

* the router redirect (MAC, IP, login links, CHAP values), so later HTMX calls and the login
  step have them even when the router's query string is long gone;
* the orders this browser created (`owned`: may see the device login) and the orders it was
  shown because its device had them in flight (`seen`: may follow and retry, never log in);
* a code sent to move a paid session here (`move`): only this browser may type it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from hotspot.portal.redirect import RouterRedirect

__all__ = ["PortalSession"]

_REDIRECT = "portal_redirect"
_OWNED = "portal_orders"
_SEEN = "portal_seen"
_CONNECTS = "portal_connects"
_MOVE = "portal_move"
_KEEP = 20  # ids remembered per list, newest last
_MOVE_KEYS = ("challenge", "phone", "masked")


class PortalSession:
    """A typed view over `request.session`; changes are written back with `save()`."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        self._request = request
        raw = request.session if "session" in request.scope else {}
        self._data: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
        self._dirty = False

    # --- the router redirect -------------------------------------------------------------

    @property
    def redirect(self) -> RouterRedirect:
        return RouterRedirect.from_session(self._data.get(_REDIRECT))

    def set_redirect(self, redirect: RouterRedirect) -> None:
        self._data[_REDIRECT] = redirect.as_session()
        self._dirty = True

    # --- orders --------------------------------------------------------------------------

    def _ids(self, key: str) -> list[str]:
        value = self._data.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def _add(self, key: str, order_id: str) -> None:
        ids = [v for v in self._ids(key) if v != order_id]
        ids.append(order_id)
        self._data[key] = ids[-_KEEP:]
        self._dirty = True

    @property
    def owned(self) -> list[str]:
        return self._ids(_OWNED)

    def own(self, order_id: str) -> None:
        self._add(_OWNED, order_id)

    def owns(self, order_id: str) -> bool:
        return order_id in self._ids(_OWNED)

    def see(self, order_id: str) -> None:
        if not self.may_view(order_id):
            self._add(_SEEN, order_id)

    def may_view(self, order_id: str) -> bool:
        return order_id in self._ids(_OWNED) or order_id in self._ids(_SEEN)

    def _connects(self) -> dict[str, int]:
        counts = self._data.get(_CONNECTS)
        if not isinstance(counts, dict):
            return {}
        return {k: v for k, v in counts.items() if isinstance(k, str) and isinstance(v, int)}

    def connects(self, order_id: str) -> int:
        """How often this browser was sent to the router's login page for the order."""
        return self._connects().get(order_id, 0)

    def connect_attempt(self, order_id: str) -> int:
        """Count a trip to the router's login page for this order; returns the count so far."""
        counts = self._connects()
        counts[order_id] = counts.get(order_id, 0) + 1
        self._data[_CONNECTS] = dict(list(counts.items())[-_KEEP:])
        self._dirty = True
        return int(counts[order_id])

    # --- moving a paid session here (hotspot.customers) -------------------------------------

    @property
    def move(self) -> dict[str, str] | None:
        """{"challenge", "phone" (as typed), "masked"} of the code last sent, or None."""
        value = self._data.get(_MOVE)
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in _MOVE_KEYS):
            return None
        return {k: str(value[k]) for k in _MOVE_KEYS}

    def set_move(self, challenge: str, phone: str, masked: str) -> None:
        self._data[_MOVE] = {"challenge": challenge, "phone": phone, "masked": masked}
        self._dirty = True

    def clear_move(self) -> None:
        if self._data.pop(_MOVE, None) is not None:
            self._dirty = True

    def save(self) -> None:
        if self._dirty:
            self._request.set_session(dict(self._data))
            self._dirty = False
