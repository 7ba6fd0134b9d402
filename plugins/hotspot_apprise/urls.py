"""Turning configured apprise URLs into apprise services without ever echoing them.

The URLs carry passwords and tokens. Apprise masks credentials in most of its log lines, but not
all (an unparsable ``tgram://TOKEN`` with a short token is logged as is), so parsing happens with
its logger muted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import quote

import apprise
from apprise import AppriseAsset, NotifyBase

__all__ = ["PLACEHOLDER_TARGET", "make_service", "quiet_apprise", "with_targets"]

# A syntactically valid phone number used to check a customer URL template at config time,
# because some SMS plugins refuse a URL that has no target at all.
PLACEHOLDER_TARGET = "+15550100000"

_APPRISE_LOG = logging.getLogger(apprise.LOGGER_NAME)


class _DropEverything(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def quiet_apprise() -> Iterator[None]:
    """Mute apprise's logger for the duration: its parse errors may repeat the URL verbatim."""
    muzzle = _DropEverything()
    _APPRISE_LOG.addFilter(muzzle)
    try:
        yield
    finally:
        _APPRISE_LOG.removeFilter(muzzle)


def make_service(url: str, asset: AppriseAsset | None = None) -> NotifyBase | None:
    """One apprise service for exactly one URL, or None when apprise cannot use it.

    ``Apprise.instantiate`` is used rather than ``Apprise().add`` because ``add`` splits a string
    on whitespace and commas and would quietly turn one config entry into several services.
    """
    if not url.strip():
        return None
    with quiet_apprise():
        return apprise.Apprise.instantiate(url.strip(), asset=asset)


def with_targets(template: str, targets: Sequence[str]) -> str:
    """Append targets to a URL template as path segments, before any ``?query``.

    ``twilio://SID:TOKEN@+15551234567`` with ``("+254712345678",)`` becomes
    ``twilio://SID:TOKEN@+15551234567/+254712345678``: the form almost every apprise SMS (and the
    e-mail) plugin documents as ``{schema}://{credentials}/{targets}``. Each target is
    percent-quoted (``+`` kept) so a stray ``/``, ``?`` or ``@`` cannot change the URL's shape.
    """
    base, sep, query = template.strip().partition("?")
    scheme, colon_slashes, rest = base.partition("://")
    path = "/".join(quote(target, safe="+") for target in targets)
    return f"{scheme}{colon_slashes}{rest.rstrip('/')}/{path}{sep}{query}"
