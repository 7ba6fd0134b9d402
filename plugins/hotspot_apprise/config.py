"""The ``plugins.apprise`` block of the YAML: where owner alerts and customer SMS go."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from hotspot.config import PluginSettings

from .urls import PLACEHOLDER_TARGET, make_service, with_targets

__all__ = ["AppriseSettings"]

_HIDDEN = "the value is not shown because it holds credentials"


def _owner_url(value: SecretStr) -> SecretStr:
    """Refuse at startup a URL apprise cannot parse, instead of losing the first alert to it."""
    if make_service(value.get_secret_value()) is None:
        raise ValueError(
            "apprise cannot use this URL (unknown scheme, or a token, host or address is missing or "
            f"malformed; see https://appriseit.com/services/); {_HIDDEN}"
        )
    return value


def _customer_template(value: SecretStr) -> SecretStr:
    """Check the template the way it is used: with a phone number appended to its path."""
    if make_service(with_targets(value.get_secret_value(), [PLACEHOLDER_TARGET])) is None:
        raise ValueError(
            "apprise cannot use this URL template once a phone number is appended to its path "
            f"(e.g. twilio://SID:TOKEN@+15551234567 becomes .../+2547...); {_HIDDEN}"
        )
    return value


OwnerUrl = Annotated[SecretStr, AfterValidator(_owner_url)]
CustomerTemplate = Annotated[SecretStr, AfterValidator(_customer_template)]


class AppriseSettings(PluginSettings):
    """Apprise URLs (https://appriseit.com/services/) for the owner and, optionally, customers.

    Every URL is a secret: write it as ``{$env: NAME}`` or ``{$file: PATH}`` in the YAML.
    """

    # Validation errors would otherwise print the rejected URL (and its password) as input_value.
    model_config = ConfigDict(hide_input_in_errors=True)

    owner_urls: list[OwnerUrl] = Field(
        default_factory=list,
        description=(
            "Where owner alerts go, one apprise URL per item, e.g. "
            "mailtos://user:pass@example.com?to=owner@example.com or tgram://BOT_TOKEN/CHAT_ID. "
            "At least one is required when the plugin is enabled; every one receives each alert."
        ),
    )
    customer_sms_url: CustomerTemplate | None = Field(
        None,
        description=(
            "Apprise URL template for messages to customers (a Notification with `to` phone "
            "numbers). The numbers are appended to the URL's path, before any ?query, one segment "
            "each: twilio://SID:TOKEN@+15551234567 sends to +254712345678 as "
            "twilio://SID:TOKEN@+15551234567/+254712345678. Leave out recipients of your own: any "
            "already in the path would receive every customer's message."
        ),
    )
    timeout_seconds: float = Field(
        15, gt=0, le=300, description="Longest a send may take before it is reported as failed"
    )
    title_prefix: str = Field(
        "", description="Put before every subject, e.g. '[Hotspot] ' (include the trailing space)"
    )

    @model_validator(mode="after")
    def _owner_reachable(self) -> Self:
        """An enabled notifier with nowhere to send would swallow every alert."""
        if self.enabled and not self.owner_urls:
            error = PydanticCustomError(
                "value_error", "at least one apprise URL is required when the plugin is enabled"
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=error, loc=("owner_urls",), input=[])],
            )
        return self
