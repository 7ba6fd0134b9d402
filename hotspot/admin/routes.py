"""The admin's HTML pages as one router, mounted by hotspot.app (the wizard is hotspot.admin.wizard)."""

from litestar import Router

from hotspot.admin.account import ACCOUNT_HANDLERS
from hotspot.admin.admins import ADMINS_HANDLERS
from hotspot.admin.customers_page import CUSTOMERS_HANDLERS
from hotspot.admin.logs import LOG_HANDLERS
from hotspot.admin.notices import NOTICES_HANDLERS
from hotspot.admin.overview import OVERVIEW_HANDLERS
from hotspot.admin.packages_page import PACKAGES_HANDLERS
from hotspot.admin.payments_page import PAYMENTS_HANDLERS
from hotspot.admin.plugins_page import PLUGINS_HANDLERS
from hotspot.admin.promos_page import PROMOS_HANDLERS
from hotspot.admin.pwa import PWA_HANDLERS
from hotspot.admin.reports_page import REPORTS_HANDLERS
from hotspot.admin.routers_page import ROUTERS_HANDLERS
from hotspot.admin.sessions_page import SESSIONS_HANDLERS
from hotspot.admin.settings_page import SETTINGS_HANDLERS
from hotspot.admin.signin import SIGNIN_HANDLERS
from hotspot.admin.vouchers_page import VOUCHERS_HANDLERS
from hotspot.admin.web import page_exception_handlers

__all__ = ["ADMIN_PAGES"]

ADMIN_PAGES = Router(
    path="/",
    route_handlers=[
        *SIGNIN_HANDLERS,
        *OVERVIEW_HANDLERS,
        *ACCOUNT_HANDLERS,
        *ADMINS_HANDLERS,
        *LOG_HANDLERS,
        *SETTINGS_HANDLERS,
        *SESSIONS_HANDLERS,
        *PAYMENTS_HANDLERS,
        *CUSTOMERS_HANDLERS,
        *VOUCHERS_HANDLERS,
        *REPORTS_HANDLERS,
        *PACKAGES_HANDLERS,
        *PROMOS_HANDLERS,
        *ROUTERS_HANDLERS,
        *PLUGINS_HANDLERS,
        *NOTICES_HANDLERS,
        *PWA_HANDLERS,
    ],
    exception_handlers=page_exception_handlers(),
    include_in_schema=False,
)
