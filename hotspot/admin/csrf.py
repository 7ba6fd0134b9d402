"""Cross-site request forgery protection for the HTML pages (Litestar's CSRF middleware).

Double-submit: a random token signed with the box's key sits in an HttpOnly cookie and in every
form (the hidden `_csrf_token` field, `csrf_input` in templates); htmx sends it as the
`X-CSRFToken` header, read from `<meta name="csrf-token">` by web/static/js/admin.js (no inline
script). A POST, PUT, PATCH or DELETE without a matching token is refused with 403 before any
handler or guard runs. Signed-in form posts then satisfy the accounts guard's cookie rule too
(hotspot.accounts.guards: a verified token counts like X-Requested-With).

Left out: webhooks, the captive portal, the JSON API, the health probe and static files, each
for the reason written beside its path pattern in `EXEMPT`.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar.config.csrf import CSRFConfig

from hotspot.config import Settings, secret_key

__all__ = ["COOKIE", "EXEMPT", "HEADER", "csrf_config"]

COOKIE = "hotspot_csrf"
HEADER = "x-csrftoken"

EXEMPT: dict[str, str] = {
    r"^/hooks(/|$)": "gateway webhooks: servers with no browser and no cookie; each plugin "
    "authenticates its caller (unguessable path, signature) and the core verifies with the gateway",
    r"^/portal(/|$)": "the captive portal: customers have no account and new phones get no session "
    "(hotspot.app SESSIONLESS, hotspot.portal.landing); its posts are htmx calls acting only on the "
    "browser's own orders, so there is no signed-in identity to forge",
    r"^/api/v1(/|$)": "the JSON API: cookie calls that change something must carry X-Requested-With "
    "or HX-Request (a custom header no cross-site form can send), token calls are bearer-only",
    r"^/healthz$": "a read-only probe",
    r"^/static/": "files",
}


def csrf_config(settings: Settings) -> CSRFConfig:
    """The app's CSRF settings; the token secret is derived from the box's secret key."""
    key = hmac.new(secret_key(settings).encode(), b"hotspot:csrf", hashlib.sha256).hexdigest()
    return CSRFConfig(
        secret=key,
        cookie_name=COOKIE,
        header_name=HEADER,
        cookie_secure=settings.server.behind_tls,
        cookie_httponly=True,  # pages read the token from the meta tag, never from the cookie
        cookie_samesite="lax",
        exclude=list(EXEMPT),
    )
