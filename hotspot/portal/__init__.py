"""The captive portal: the page a customer lands on from the router, its live status, its JSON API.

`PORTAL_HANDLERS` are registered by create_app; `SKIP_COMPRESSION` is the route opt key the
compression middleware honours (server-sent events must reach the browser unbuffered).
"""

from hotspot.portal.api import PortalApi
from hotspot.portal.views import PORTAL_HANDLERS, SKIP_COMPRESSION

__all__ = ["PORTAL_HANDLERS", "SKIP_COMPRESSION", "PortalApi"]
