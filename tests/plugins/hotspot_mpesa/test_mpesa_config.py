"""The plugins.mpesa block: loaded through the real config loader, secrets never echoed."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from _mpesa_rig import KEY, SECRET, SHORTCODE, settings
from pydantic import SecretStr, ValidationError

from hotspot.config import PluginSettings, Settings, load_settings
from hotspot.errors import ConfigError
from hotspot.sim.daraja import SANDBOX_PASSKEY
from hotspot_mpesa import PLUGIN, MpesaSettings
from hotspot_mpesa.config import SAFARICOM_CALLBACK_SOURCES

PASSKEY = "pk_9d2f7be1c04a4e55a8d3f0e1b2c3d4e5"
ENV = {"MPESA_PASSKEY": PASSKEY, "MPESA_KEY": KEY, "MPESA_SECRET": SECRET}
SECRETS = (PASSKEY, KEY, SECRET)


def load(tmp_path: Path, block: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text("plugins:\n  mpesa:\n" + block, encoding="utf-8")
    return load_settings(
        path,
        plugins={"mpesa": MpesaSettings},
        env={"HOTSPOT_DATA_DIR": str(tmp_path / "data"), **(ENV if env is None else env)},
    )


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


CREDENTIALS = """\
    passkey: {$env: MPESA_PASSKEY}
    consumer_key: {$env: MPESA_KEY}
    consumer_secret: {$env: MPESA_SECRET}
"""


def test_plugin_info() -> None:
    assert PLUGIN.name == "mpesa" and PLUGIN.kind == "payment_gateway"
    assert PLUGIN.routes_path == "/hooks/lnm" and "mpesa" not in PLUGIN.routes_path
    assert PLUGIN.config is MpesaSettings and issubclass(MpesaSettings, PluginSettings)
    described = {name for name, field in MpesaSettings.model_fields.items() if field.description}
    assert described == set(MpesaSettings.model_fields) - {"enabled"}


def test_valid_block_loads_with_secrets_from_env(tmp_path: Path) -> None:
    settings_ = load(
        tmp_path, "    enabled: true\n    shortcode: '174379'\n    till: '987654'\n" + CREDENTIALS
    )
    block = settings_.plugins["mpesa"]
    assert isinstance(block, MpesaSettings)
    assert block.enabled and block.environment == "sandbox"
    assert block.api_base == "https://sandbox.safaricom.co.ke"
    assert block.shortcode == "174379" and block.till == "987654"
    assert block.passkey == SecretStr(PASSKEY) and block.consumer_key == SecretStr(KEY)
    assert block.consumer_secret == SecretStr(SECRET)
    assert block.timeout_seconds == 10.0 and block.account_reference == "HS"
    assert block.allowlist_enabled is False and block.allowed_sources == list(SAFARICOM_CALLBACK_SOURCES)
    dumped = str(settings_.redacted())
    for secret in SECRETS:
        assert secret not in dumped and secret not in repr(block) and secret not in str(block)


def test_production_environment(tmp_path: Path) -> None:
    block = load(
        tmp_path, "    enabled: true\n    environment: production\n    shortcode: '4123456'\n" + CREDENTIALS
    )
    assert block.plugins["mpesa"].api_base == "https://api.safaricom.co.ke"  # type: ignore[attr-defined]


def test_custom_environment_needs_base_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "    enabled: true\n    environment: custom\n    shortcode: '174379'\n" + CREDENTIALS)
    assert problems(exc) == {
        "plugins.mpesa.base_url": "is required when environment is custom (Daraja's base URL)"
    }
    block = load(
        tmp_path,
        "    enabled: true\n    environment: custom\n    base_url: http://127.0.0.1:8089/\n"
        "    shortcode: '174379'\n" + CREDENTIALS,
    ).plugins["mpesa"]
    assert isinstance(block, MpesaSettings) and block.api_base == "http://127.0.0.1:8089"


def test_base_url_is_only_for_custom_and_must_be_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "    base_url: http://127.0.0.1:8089\n")
    assert problems(exc) == {
        "plugins.mpesa.base_url": "is only used with environment: custom (the sandbox URL is fixed)"
    }
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "    environment: custom\n    base_url: 127.0.0.1:8089\n")
    assert list(problems(exc)) == ["plugins.mpesa.base_url"]
    assert "must be an http:// or https:// URL" in problems(exc)["plugins.mpesa.base_url"]


@pytest.mark.parametrize("bad", ["1743", "17437912", "17437a", "174 379", ""])
def test_bad_shortcode_and_till(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, f"    enabled: true\n    shortcode: '{bad}'\n    till: '{bad}'\n" + CREDENTIALS)
    found = problems(exc)
    assert set(found) == {"plugins.mpesa.shortcode", "plugins.mpesa.till"}
    assert all("must be 5 to 7 digits" in message for message in found.values())
    for secret in SECRETS:
        assert secret not in str(exc.value)


def test_enabled_needs_every_credential(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "    enabled: true\n")
    assert problems(exc) == {
        f"plugins.mpesa.{key}": "is required when the plugin is enabled"
        for key in ("shortcode", "passkey", "consumer_key", "consumer_secret")
    }


def test_a_disabled_block_may_lack_its_credentials(tmp_path: Path) -> None:
    bare = load(tmp_path, "    enabled: false\n").plugins["mpesa"]
    assert bare.enabled is False
    # {$env} of a variable that is gone: the loader forgives it while disabled
    gone = load(tmp_path, "    enabled: false\n    shortcode: '174379'\n" + CREDENTIALS, env={})
    assert gone.plugins["mpesa"].enabled is False
    with pytest.raises(ConfigError, match="environment variable MPESA_PASSKEY is not set"):
        load(tmp_path, "    enabled: true\n    shortcode: '174379'\n" + CREDENTIALS, env={})


def test_secrets_are_masked_in_repr_and_validation_errors() -> None:
    good = settings(passkey=PASSKEY, consumer_key=KEY, consumer_secret=SECRET, callback_token="t" * 20)
    for text in (repr(good), str(good), str(good.model_dump())):
        for secret in (*SECRETS, "t" * 20):
            assert secret not in text
    bad_token = "short-" + PASSKEY[:4]  # too short, and would reveal part of a secret
    with pytest.raises(ValidationError) as exc:
        settings(passkey=PASSKEY, consumer_key=KEY, consumer_secret=SECRET, callback_token=bad_token)
    assert "callback_token" in str(exc.value) and bad_token not in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        settings(passkey=PASSKEY, consumer_key=KEY, consumer_secret=SECRET, shortcode="12")
    for secret in SECRETS:
        assert secret not in str(exc.value)
        assert secret not in repr(exc.value.errors())


def test_callback_token_is_derived_from_the_credentials() -> None:
    block = settings()
    expected = hmac.new(
        SANDBOX_PASSKEY.encode(), f"hotspot-callback:{KEY}:{SHORTCODE}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    assert block.effective_callback_token() == expected
    assert len(expected) == 32 and int(expected, 16) >= 0
    assert settings().effective_callback_token() == expected  # stable: restarts and workers agree
    assert settings(consumer_key="ck_other").effective_callback_token() != expected
    assert settings(passkey="another-passkey").effective_callback_token() != expected
    assert settings(callback_token="My_Own-Token-1234").effective_callback_token() == "My_Own-Token-1234"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "callback_url",
            "https://relay.example.com/mpesa/cb",
            "Daraja refuses callback URLs containing 'mpesa'",
        ),
        ("callback_url", "https://relay.example.com/Safaricom", "containing 'safaricom'"),
        ("callback_url", "relay.example.com/cb", "must be an http:// or https:// URL"),
        ("callback_url", "https://relay.example.com/c b", "must be an http:// or https:// URL"),
        ("callback_token", "abc", "must be 16 to 128 characters"),
        ("callback_token", "x" * 12 + "/" + "y" * 12, "must be 16 to 128 characters"),
        ("callback_token", "my-sql-token-123456", "must not contain a word Daraja refuses"),
        ("account_reference", "HS-1", "should match pattern"),
        ("account_reference", "WIFIHOTSPOT", "should match pattern"),
        ("allowed_sources", ["196.201.214.200", "not-an-ip"], "'not-an-ip' is not an IP address or network"),
        ("timeout_seconds", 0, "greater than 0"),
        ("environment", "staging", "Input should be 'sandbox', 'production' or 'custom'"),
    ],
)
def test_bad_values_are_refused(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        settings(**{key: value})
    assert exc.value.errors()[0]["loc"] == (key,) or exc.value.errors()[0]["loc"][0] == key
    assert message in str(exc.value)


def test_allowed_sources_take_addresses_and_networks() -> None:
    block = settings(
        allowlist_enabled=True, allowed_sources=[" 196.201.214.200 ", "10.0.0.0/8", "2001:db8::/32"]
    )
    assert block.allowed_sources == ["196.201.214.200", "10.0.0.0/8", "2001:db8::/32"]
    assert [str(n) for n in block.allowed_networks()] == ["196.201.214.200/32", "10.0.0.0/8", "2001:db8::/32"]
    with pytest.raises(ValidationError, match="every callback would be dropped"):
        settings(allowlist_enabled=True, allowed_sources=[])
    assert len(SAFARICOM_CALLBACK_SOURCES) == 14
    assert {"196.201.214.200", "196.201.212.69", "196.201.213.44"} <= set(SAFARICOM_CALLBACK_SOURCES)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "    enabled: false\n    shortcod: '174379'\n")
    assert list(problems(exc)) == ["plugins.mpesa.shortcod"]


def test_the_example_config_documents_the_block() -> None:
    text = (Path(__file__).resolve().parents[3] / "config.example.yaml").read_text(encoding="utf-8")
    block = text[text.index("\n  mpesa:") :]
    for key in MpesaSettings.model_fields:
        assert f"    {key}:" in block, f"config.example.yaml does not document plugins.mpesa.{key}"
    assert "    enabled: false\n" in block
