"""The setup wizard's M-Pesa page: the few keys an owner copies from the Daraja portal, tested
by fetching an OAuth token before anything is saved (Home Assistant's "connect before save").

The form's fields are keys of the ``plugins.mpesa`` block, so the wizard saves the answers as
that block (enabled). Everything else keeps its default or its YAML value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from hotspot.contracts import SetupStep

from .config import MpesaSettings
from .daraja import DarajaAuthError, DarajaClient, DarajaError, DarajaUnavailable, TokenCache

__all__ = ["MpesaSetupForm", "setup_step", "validate_setup"]


class MpesaSetupForm(BaseModel):
    """What the wizard asks; the titles and descriptions are what the owner reads."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    environment: Literal["sandbox", "production", "custom"] = Field(
        "sandbox",
        title="Daraja environment",
        description=(
            "Sandbox to try it out with test money, production to take real payments; custom for "
            "the Daraja simulator (hotspot sim daraja) or a relay"
        ),
        json_schema_extra={
            "labels": {
                "sandbox": "Sandbox (test money)",
                "production": "Production (real payments)",
                "custom": "Custom address (simulator or relay)",
            }
        },
    )
    base_url: str | None = Field(
        None,
        title="Daraja address",
        description="Where Daraja answers: the simulator's address, or your relay's",
        examples=["http://127.0.0.1:8089"],
        json_schema_extra={"show_when": "environment=custom"},  # the wizard hides it otherwise
    )
    shortcode: str = Field(
        title="Business short code",
        description=(
            "Your PayBill number; for a till, the store (head-office) number from Go-Live. "
            "174379 in the sandbox"
        ),
        examples=["174379"],
    )
    till: str | None = Field(
        None,
        title="Till number",
        description="Only for Buy Goods: the till customers pay. Leave empty for a PayBill",
        examples=["5123456"],
    )
    passkey: SecretStr = Field(
        title="Lipa na M-Pesa passkey", description="Emailed by Safaricom after Go-Live (on the sandbox page)"
    )
    consumer_key: SecretStr = Field(
        title="Consumer key", description="From your app on developer.safaricom.co.ke (My Apps)"
    )
    consumer_secret: SecretStr = Field(title="Consumer secret", description="Next to the consumer key")


async def validate_setup(form: BaseModel) -> dict[str, str]:
    """Errors by field ("" for the whole form); {} when Daraja issued a token for these keys."""
    assert isinstance(form, MpesaSetupForm)
    try:
        settings = MpesaSettings.model_validate({**form.model_dump(), "enabled": True})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else ""
            errors.setdefault(where, str(err["msg"]).removeprefix("Value error, ").capitalize())
        return errors
    assert settings.consumer_key is not None and settings.consumer_secret is not None
    assert settings.shortcode is not None and settings.passkey is not None
    client = DarajaClient(
        settings.api_base,
        settings.consumer_key.get_secret_value(),
        settings.consumer_secret.get_secret_value(),
        settings.shortcode,
        settings.passkey.get_secret_value(),
        timeout=settings.timeout_seconds,
        tokens=TokenCache(),  # a token of its own: a cached one would not prove these keys
    )
    try:
        await client.token()
    except DarajaAuthError:
        return {
            "consumer_secret": (
                f"M-Pesa ({settings.environment}) refused this consumer key and secret. Copy both "
                "again from your app, and check the environment matches the app."
            )
        }
    except DarajaUnavailable as exc:
        return {"": f"Cannot reach M-Pesa at {settings.api_base}: {exc}"}
    except DarajaError as exc:
        return {"": str(exc)}
    finally:
        await client.aclose()
    return {}


def setup_step() -> SetupStep:
    return SetupStep(
        id="mpesa",
        title="M-Pesa",
        template="",  # the wizard draws the form from MpesaSetupForm
        form=MpesaSetupForm,
        validate=validate_setup,
        order=10,
    )
