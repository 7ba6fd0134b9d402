"""The captive portal: the page a customer lands on from the router, its live status, its JSON API.

`PORTAL_HANDLERS` are registered by create_app; `SKIP_COMPRESSION` is the route opt key the
compression middleware honours (server-sent events must reach the browser unbuffered).
"""

from hotspot.portal.api import PortalApi
from hotspot.portal.move import MOVE_HANDLERS
from hotspot.portal.prices import portal_prices, portal_quote
from hotspot.portal.redeem import portal_redeem
from hotspot.portal.views import PAGE_HANDLERS, SKIP_COMPRESSION

PORTAL_HANDLERS = [*PAGE_HANDLERS, portal_redeem, portal_quote, portal_prices, *MOVE_HANDLERS]

__all__ = ["PORTAL_HANDLERS", "SKIP_COMPRESSION", "PortalApi"]
