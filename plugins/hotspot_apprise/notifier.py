"""Deliver Notifications through apprise: e-mail, Telegram, SMS gateways and ~150 more."""

from __future__ import annotations

import asyncio
import logging

from apprise import Apprise, AppriseAsset, AppriseResult, NotifyBase, NotifyFormat, NotifyType

from hotspot.contracts import Notification
from hotspot.errors import HotspotError

from .config import AppriseSettings
from .urls import make_service, with_targets

__all__ = ["AppriseNotifier", "NotifierError"]

log = logging.getLogger("hotspot.plugins.apprise")

_NOTIFY_TYPES: dict[str, NotifyType] = {
    "info": NotifyType.INFO,
    "warning": NotifyType.WARNING,
    "critical": NotifyType.FAILURE,
}

# Apprise stops waiting at its own deadline; this margin lets it report TIMEOUT itself before
# the outer guard (which catches anything apprise fails to bound) cancels the call.
_GRACE_SECONDS = 1.0


class NotifierError(HotspotError):
    """A notification was not delivered. The message never contains a URL or credential."""


class AppriseNotifier:
    """The ``apprise`` notifier: owner alerts to owner_urls, customer messages via the SMS template."""

    id = "apprise"

    def __init__(self, config: AppriseSettings) -> None:
        self._config = config
        # secure_logging is apprise's default; pinned so a changed default cannot leak passwords.
        self._asset = AppriseAsset(secure_logging=True)
        self._owner = Apprise(asset=self._asset)
        for index, url in enumerate(config.owner_urls):
            self._owner.add(self._service(url.get_secret_value(), f"owner_urls[{index}]"))

    async def send(self, notification: Notification) -> None:
        """Deliver to the customers in ``to`` when given, else to the owner; raise when not delivered."""
        if notification.to:
            await self._deliver(self._customers(notification.to), notification, "customer")
            return
        if not self._config.owner_urls:
            raise NotifierError("apprise has no owner_urls configured; the notification was not sent")
        await self._deliver(self._owner, notification, "owner")

    def _customers(self, to: tuple[str, ...]) -> Apprise:
        """A one-off apprise object for the template with this notification's targets appended."""
        template = self._config.customer_sms_url
        if template is None:
            raise NotifierError(
                "the notification is addressed to customers (to=...), but plugins.apprise."
                "customer_sms_url is not configured"
            )
        targets = [target.strip() for target in to]
        if not all(targets):
            raise NotifierError("the notification has an empty recipient in to=...")
        apobj = Apprise(asset=self._asset)
        apobj.add(self._service(with_targets(template.get_secret_value(), targets), "customer_sms_url"))
        return apobj

    def _service(self, url: str, where: str) -> NotifyBase:
        """Parse one URL, capping its socket timeouts so a hung server frees its worker thread too."""
        service = make_service(url, self._asset)
        if service is None:
            raise NotifierError(f"apprise cannot use plugins.apprise.{where}")
        limit = self._config.timeout_seconds
        service.socket_connect_timeout = min(service.socket_connect_timeout, limit)
        service.socket_read_timeout = min(service.socket_read_timeout, limit)
        return service

    async def _deliver(self, apobj: Apprise, notification: Notification, audience: str) -> None:
        """One apprise call bounded by timeout_seconds; anything short of full success raises.

        A partial success (e-mail went out, Telegram did not) raises too: the owner should hear
        that a channel is broken, and the core then tries its other notifiers.
        """
        timeout = self._config.timeout_seconds
        try:
            async with asyncio.timeout(timeout + _GRACE_SECONDS):
                result = await apobj.async_notify(
                    body=notification.body,
                    title=f"{self._config.title_prefix}{notification.subject}",
                    notify_type=_NOTIFY_TYPES.get(notification.severity, NotifyType.INFO),
                    body_format=NotifyFormat.TEXT,
                    timeout=timeout,
                )
        except TimeoutError:
            raise NotifierError(f"apprise {audience} notification timed out after {timeout:g}s") from None
        with result:
            if result:
                log.debug("apprise %s notification %r delivered", audience, notification.kind)
                return
            raise NotifierError(_failure(result, audience, timeout))


def _failure(result: AppriseResult, audience: str, timeout: float) -> str:
    """Say which services failed and how, by service name only (never by URL)."""
    failed = [service for service in result if not service]
    how = ", ".join(f"{service.name}: {service.status.name.lower()}" for service in failed)
    limit = f" (limit {timeout:g}s)" if result.timeout_count else ""
    return (
        f"apprise {audience} notification not delivered ({result.status.name.lower()}): "
        f"{len(failed)} of {len(result)} service(s) did not accept it"
        f"{f' [{how}]' if how else ''}{limit}; apprise's log has the details"
    )
