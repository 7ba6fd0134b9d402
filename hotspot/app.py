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
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from hotspot import __version__
from hotspot.config import PluginSettings, Settings, load_settings
from hotspot.http.assets import static_dir, templates_dir
from hotspot.http.client import client_ip, parse_networks
from hotspot.http.errors import exception_handlers
from hotspot.http.pages import healthz, home, router_login_page
from hotspot.http.request_id import RequestIdMiddleware
from hotspot.http.security import SecurityHeadersMiddleware
from hotspot.logs import configure_logging
from hotspot.plugins import InstalledPlugin, discover, load_plugins, settings_models
from hotspot.portal import PORTAL_HANDLERS, SKIP_COMPRESSION, PortalApi
from hotspot.runtime import Hotspot

__all__ = ["app_from_env", "create_app"]

RATE_LIMIT_EXEMPT = ["/static", "/healthz"]
SESSIONLESS = ["/static", "/healthz", "/hooks", "/api/v1/portal"]  # no cookie, no session row


def create_app(
    settings: Settings,
    *,
    installed: dict[str, InstalledPlugin] | None = None,
    extra_plugins: Iterable[tuple[str, object, PluginSettings]] = (),
) -> Litestar:
    """Build the app; nothing touches the network until the lifespan opens the Hotspot."""
    installed = discover() if installed is None else installed
    registry = load_plugins(settings, installed, extra=extra_plugins)
    hotspot = Hotspot.build(settings, registry, installed)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await hotspot.open()
        try:
            yield
        finally:
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

    cookie_secure = settings.server.behind_tls
    app = Litestar(
        route_handlers=[
            home,
            healthz,
            router_login_page,
            *PORTAL_HANDLERS,
            PortalApi,
            create_static_files_router(
                path="/static", directories=[static_dir()], include_in_schema=False, cache_control=None
            ),
            *plugin_routers,
        ],
        dependencies={
            "hotspot": Provide(lambda: hotspot, sync_to_thread=False),
            "payment_inbox": Provide(lambda: hotspot.payments, sync_to_thread=False),
            "client_ip": Provide(_client_ip, sync_to_thread=False),
        },
        lifespan=[lifespan],
        plugins=[hotspot.channels],
        stores=hotspot.stores,
        middleware=[
            ServerSideSessionConfig(
                store="sessions",
                key="hotspot_session",
                max_age=settings.security.session_idle_minutes * 60,
                secure=cookie_secure,
                httponly=True,
                samesite="lax",
                renew_on_access=True,
                exclude=SESSIONLESS,
            ).middleware,
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
        ],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
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
    # Outermost, around Litestar's exception handling, so 404s and 500s get an id and headers too.
    app.asgi_handler = RequestIdMiddleware(
        SecurityHeadersMiddleware(app.asgi_handler, hsts=settings.server.behind_tls)
    )
    app.state.hotspot = hotspot
    app.state.trusted_proxies = parse_networks(settings.server.trusted_proxies)
    return app


def _client_ip(request: Request[Any, Any, Any]) -> str:
    """Injected as `client_ip`: the caller's address, X-Forwarded-For trusted only from proxies."""
    return client_ip(request)


def app_from_env() -> Litestar:
    """Factory for the ASGI server's worker processes: settings come from the environment.

    `hotspot serve` resolves the config file and data directory once and exports them as
    HOTSPOT_CONFIG / HOTSPOT_DATA_DIR, so every worker loads exactly what the parent checked.
    """
    installed = discover()
    settings = load_settings(os.environ.get("HOTSPOT_CONFIG") or None, plugins=settings_models(installed))
    configure_logging(settings.logging)
    return create_app(settings, installed=installed)
