"""The plugins.apprise block: loaded through the real config loader, secrets never echoed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from hotspot.config import Settings, load_settings
from hotspot.errors import ConfigError
from hotspot_apprise import AppriseSettings
from hotspot_apprise.urls import with_targets

GOOD = "mailto://127.0.0.1:2525?from=hotspot@example.com&to=owner@example.com"
SECRET = "sekrit-bot-token-42"
SHORT_SECRET = "hunter2"  # apprise masks long tokens in its logs (s...2) but prints short ones as is


def load(tmp_path: Path, yaml_text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return load_settings(
        path,
        plugins={"apprise": AppriseSettings},
        env={"HOTSPOT_DATA_DIR": str(tmp_path / "data"), **(env or {})},
    )


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


def test_valid_block_loads_with_secrets_from_env(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
plugins:
  apprise:
    enabled: true
    owner_urls:
      - {$env: OWNER_URL}
    customer_sms_url: {$env: SMS_URL}
    timeout_seconds: 5
    title_prefix: "[Hotspot] "
""",
        env={"OWNER_URL": GOOD, "SMS_URL": "twilio://AC" + "a" * 32 + ":" + "t" * 32 + "@+15551234567"},
    )
    block = settings.plugins["apprise"]
    assert isinstance(block, AppriseSettings)
    assert block.enabled and block.timeout_seconds == 5 and block.title_prefix == "[Hotspot] "
    assert [url.get_secret_value() for url in block.owner_urls] == [GOOD]
    assert GOOD not in str(settings.redacted())


def test_bad_url_names_its_index_and_hides_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as exc:
        load(
            tmp_path,
            "plugins:\n  apprise:\n    enabled: true\n    owner_urls:\n      - {$env: GOOD}\n"
            "      - {$env: BAD}\n",
            env={"GOOD": GOOD, "BAD": f"tgram://{SHORT_SECRET}"},
        )
    found = problems(exc)
    assert list(found) == ["plugins.apprise.owner_urls[1]"]
    assert "apprise cannot use this URL" in found["plugins.apprise.owner_urls[1]"]
    assert "plugins.apprise.owner_urls[1]" in str(exc.value)
    assert SHORT_SECRET not in str(exc.value)
    assert SHORT_SECRET not in caplog.text  # apprise logs "Unparseable Telegram URL tgram://hunter2"


@pytest.mark.parametrize(
    "bad",
    [
        f"nosuchscheme://user:{SECRET}@host",
        f"mailtos://user:{SECRET}@",  # no host, so no sender address
        f"not a url {SECRET}",
        "",
    ],
)
def test_unusable_urls_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(
            tmp_path,
            "plugins:\n  apprise:\n    owner_urls: [{$env: BAD}]\n",
            env={"BAD": bad},
        )
    assert list(problems(exc)) == ["plugins.apprise.owner_urls[0]"]
    assert SECRET not in str(exc.value)


def test_enabled_without_owner_urls_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "plugins:\n  apprise:\n    enabled: true\n")
    found = problems(exc)
    assert list(found) == ["plugins.apprise.owner_urls"]
    assert "at least one apprise URL is required" in found["plugins.apprise.owner_urls"]
    assert "plugins.apprise.owner_urls: at least one" in str(exc.value)

    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "plugins:\n  apprise:\n    enabled: true\n    owner_urls: []\n")
    assert list(problems(exc)) == ["plugins.apprise.owner_urls"]


def test_disabled_block_needs_no_urls(tmp_path: Path) -> None:
    settings = load(tmp_path, "plugins:\n  apprise:\n    enabled: false\n")
    block = settings.plugins["apprise"]
    assert isinstance(block, AppriseSettings) and block.owner_urls == []


def test_bad_customer_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(
            tmp_path,
            "plugins:\n  apprise:\n    owner_urls: [{$env: GOOD}]\n    customer_sms_url: {$env: SMS}\n",
            env={"GOOD": GOOD, "SMS": f"smsnope://{SECRET}@gateway"},
        )
    assert list(problems(exc)) == ["plugins.apprise.customer_sms_url"]
    assert SECRET not in str(exc.value)


def test_typos_and_bad_values_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load(
            tmp_path,
            "plugins:\n  apprise:\n    owner_url: [x]\n    timeout_seconds: 0\n",
        )
    found = problems(exc)
    assert "did you mean 'owner_urls'" in found["plugins.apprise.owner_url"]
    assert "plugins.apprise.timeout_seconds" in found


def test_validation_error_outside_the_loader_hides_the_input() -> None:
    with pytest.raises(ValidationError) as exc:
        AppriseSettings.model_validate({"enabled": True, "owner_urls": [GOOD, f"tgram://{SECRET}"]})
    assert [err["loc"] for err in exc.value.errors()] == [("owner_urls", 1)]
    assert SECRET not in str(exc.value)


def test_settings_model_is_frozen_and_urls_are_secret() -> None:
    block = AppriseSettings(enabled=True, owner_urls=[SecretStr(GOOD)])
    assert GOOD not in repr(block)
    with pytest.raises(ValidationError):
        block.enabled = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("template", "targets", "expected"),
    [
        (
            "twilio://SID:TOKEN@+15551234567",
            ["+254712345678"],
            "twilio://SID:TOKEN@+15551234567/+254712345678",
        ),
        (
            "mailto://127.0.0.1:25/?from=a@example.com",
            ["c1@example.com", "c2@example.com"],
            "mailto://127.0.0.1:25/c1%40example.com/c2%40example.com?from=a@example.com",
        ),
        ("json://host/hook", ["a/b?c"], "json://host/hook/a%2Fb%3Fc"),
    ],
)
def test_targets_are_appended_to_the_template_path(template: str, targets: list[str], expected: str) -> None:
    assert with_targets(template, targets) == expected
