"""The ASGI application: `create_app(settings)` wires the core, the plugins and the web layer."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Request, Router
from litestar.config.compression import CompressionConfig
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from hotspot import __version__
from hotspot.accounts import RotatingSessionConfig, current_principal
from hotspot.accounts.api import ACCOUNT_HANDLERS
from hotspot.accounts.guards import closed_unless_guarded
from hotspot.admin.csrf import csrf_config
from hotspot.admin.reload import ReloadableApp
from hotspot.admin.routes import ADMIN_PAGES
from hotspot.admin.web import TEMPLATE_FILTERS
from hotspot.admin.wizard import WIZARD
from hotspot.billing.api import BillingApi
from hotspot.config import PluginSettings, Settings, load_settings
from hotspot.customers.admin_api import CustomerAdminApi
from hotspot.http.assets import static_dir, templates_dir
from hotspot.http.client import client_ip, parse_networks
from hotspot.http.errors import exception_handlers
from hotspot.http.pages import healthz, home, router_login_page
from hotspot.http.request_id import RequestIdMiddleware
from hotspot.http.security import SecurityHeadersMiddleware
from hotspot.logs import configure_logging
from hotspot.plugins import InstalledPlugin, discover, load_plugins, settings_models
from hotspot.portal import PORTAL_HANDLERS, SKIP_COMPRESSION, PortalApi
from hotspot.portal.landing import Landing, PortalLanding, session_cookie_of
from hotspot.runtime import Carried, Hotspot
from hotspot.vouchers.admin_api import VoucherAdminApi
from hotspot.vouchers.api import VoucherPortalApi

__all__ = ["app_from_env", "create_app"]

RATE_LIMIT_EXEMPT = ["/static", "/healthz"]
SESSIONLESS = ["/static", "/healthz", "/hooks", "/api/v1/portal"]  # no cookie, no session row


def create_app(
    settings: Settings,
    *,
    installed: dict[str, InstalledPlugin] | None = None,
    extra_plugins: Iterable[tuple[str, object, PluginSettings]] = (),
    carried: Carried | None = None,
) -> Litestar:
    """Build the app; nothing touches the network until the lifespan opens the Hotspot.

    `carried`: what an app rebuilt in place takes over from the one it replaces
    (hotspot.admin.reload)."""
    installed = discover() if installed is None else installed
    registry = load_plugins(settings, installed, extra=extra_plugins)
    hotspot = Hotspot.build(settings, registry, installed, carried)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await hotspot.open()
        try:
            yield
        finally:
            landing.close()
            await hotspot.close()

    plugin_routers = [
        Router(path=registry.route_paths[name], route_handlers=handlers, tags=[f"plugin: {name}"])
        for name, handlers in registry.routes.items()
    ]
    environment = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(templates_dir()), *(FileSystemLoader(d) for d in registry.template_dirs)]
        ),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
    )
    environment.globals.update(business_name=settings.business.name, version=__version__)
    environment.filters.update(TEMPLATE_FILTERS)

    cookie_secure = settings.server.behind_tls
    sessions = RotatingSessionConfig(  # rotates the id at sign-in (hotspot.accounts.sessions)
        store="sessions",
        key="hotspot_session",
        max_age=settings.security.session_idle_minutes * 60,
        secure=cookie_secure,
        httponly=True,
        samesite="lax",
        renew_on_access=True,
        exclude=SESSIONLESS,
    ).middleware
    landing = Landing(hotspot, session_cookie_of(sessions), hsts=settings.server.behind_tls)
    app = Litestar(
        route_handlers=[
            home,
            healthz,
            router_login_page,
            *PORTAL_HANDLERS,
            PortalApi,
            BillingApi,
            VoucherPortalApi,
            VoucherAdminApi,
            CustomerAdminApi,
            *ACCOUNT_HANDLERS,
            ADMIN_PAGES,
            WIZARD,
            create_static_files_router(
                path="/static", directories=[static_dir()], include_in_schema=False, cache_control=None
            ),
            *plugin_routers,
        ],
        dependencies={
            "hotspot": Provide(lambda: hotspot, sync_to_thread=False),
            "payment_inbox": Provide(lambda: hotspot.payments, sync_to_thread=False),
            "client_ip": Provide(_client_ip, sync_to_thread=False),
            "principal": Provide(current_principal),  # the admin a guard let in
        },
        lifespan=[lifespan],
        guards=[closed_unless_guarded],  # a route with no permission under /admin, /setup, /api/v1: 403
        plugins=[hotspot.channels],
        stores=hotspot.stores,
        middleware=[
            *(
                [
                    RateLimitConfig(
                        rate_limit=("minute", settings.rate_limit.per_minute),
                        exclude=RATE_LIMIT_EXEMPT,
                        identifier_for_request=client_ip,
                        store="rate_limit",
                    ).middleware
                ]
                if settings.rate_limit.enabled
                else []
            ),
            sessions,
        ],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        csrf_config=csrf_config(settings),  # HTML forms; what is exempt and why: hotspot.admin.csrf
        exception_handlers=exception_handlers,
        openapi_config=OpenAPIConfig(
            title="Hotspot API",
            version=__version__,
            path="/api/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        response_cache_config=ResponseCacheConfig(store="response_cache"),
        # Phones on 3G: text is gzipped (bootstrap.css 232 KB -> 31 KB). Event streams are not
        # (gzip would hold events back; routes opt out with opt={SKIP_COMPRESSION: True}), nor are
        # formats that are compressed already.
        compression_config=CompressionConfig(
            backend="gzip",
            gzip_compress_level=6,
            exclude_opt_key=SKIP_COMPRESSION,
            exclude=[r"/events$", r"\.(?:png|jpe?g|gif|webp|ico|woff2?)$"],
        ),
        logging_config=None,
        debug=False,
    )
    # Outermost, around Litestar's exception handling, so 404s and 500s get an id and headers too;
    # new phones' landing page (hotspot.portal.landing) in front of routing, sessions, rate limit.
    app.asgi_handler = RequestIdMiddleware(
        PortalLanding(SecurityHeadersMiddleware(app.asgi_handler, hsts=settings.server.behind_tls), landing)
    )
    app.state.hotspot = hotspot
    app.state.portal_landing = landing
    app.state.trusted_proxies = parse_networks(settings.server.trusted_proxies)
    return app


def _client_ip(request: Request[Any, Any, Any]) -> str:
    """Injected as `client_ip`: the caller's address, X-Forwarded-For trusted only from proxies."""
    return client_ip(request)


def app_from_env() -> ReloadableApp:
    """Factory for the ASGI server's worker processes: settings come from the environment.

    `hotspot serve` resolves the config file and data directory once and exports them as
    HOTSPOT_CONFIG / HOTSPOT_DATA_DIR, so every worker loads exactly what the parent checked,
    plus the settings saved in the admin (setup wizard). The app is rebuilt in place when those
    change (hotspot.admin.reload).
    """
    installed = discover()
    models = settings_models(installed)

    def build(carried: Carried | None) -> Litestar:
        settings = load_settings(os.environ.get("HOTSPOT_CONFIG") or None, plugins=models, stored=True)
        if carried is None:
            configure_logging(settings.logging)
        return create_app(settings, installed=installed, carried=carried)

    return ReloadableApp(build)
