"""Config: where it comes from, secrets, and messages that name the key, the problem and the line."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotspot.cli import main
from hotspot.config import find_config_file, load_settings, resolve_data_dir, secret_key
from hotspot.errors import ConfigError
from hotspot.plugins import discover, settings_models

REPO = Path(__file__).resolve().parents[3]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env or {"HOTSPOT_DATA_DIR": str(path.parent)})
    return [str(p) for p in info.value.problems]


def test_config_file_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, from_env, local = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "config.yaml"
    for f in (explicit, from_env, local):
        f.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert find_config_file(explicit, {"HOTSPOT_CONFIG": str(from_env)}) == explicit
    assert find_config_file(None, {"HOTSPOT_CONFIG": str(from_env)}) == from_env
    assert find_config_file(None, {}) == Path("config.yaml")
    local.unlink()
    assert find_config_file(None, {}) is None


def test_embedded_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={"HOTSPOT_DATA_DIR": str(tmp_path / "d")})
    assert settings.source is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'hotspot.db'}"
    assert settings.redis_url is None
    assert settings.server.port == 8000 and settings.business.currency == "KES"


def test_data_dir_precedence(tmp_path: Path) -> None:
    assert resolve_data_dir("/srv/h", {"HOTSPOT_DATA_DIR": "/env"}) == Path("/srv/h")
    assert resolve_data_dir(None, {"HOTSPOT_DATA_DIR": "/env"}) == Path("/env")
    default = resolve_data_dir(None, {})
    assert default.name == "hotspot" and default.is_absolute()
    cfg = write(tmp_path / "c.yaml", "data_dir: /var/lib/hotspot\n")
    assert load_settings(cfg, env={"HOTSPOT_DATA_DIR": "/env"}).data_dir == Path("/var/lib/hotspot")


def test_secrets_from_env_and_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "pg_password"
    secret_file.write_text("postgresql://hotspot:s3cret@db/hotspot\n")
    cfg = write(
        tmp_path / "c.yaml",
        f"""
        database:
          url: {{$file: {secret_file}}}
        redis:
          url: {{$env: REDIS_URL}}
        """,
    )
    settings = load_settings(
        cfg, env={"REDIS_URL": "redis://127.0.0.1:6379/3", "HOTSPOT_DATA_DIR": str(tmp_path)}
    )
    assert settings.database_url == "postgresql://hotspot:s3cret@db/hotspot"
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    dumped = str(settings.redacted())
    assert "s3cret" not in dumped and "**********" in dumped
    assert "s3cret" not in repr(settings)


def test_three_mistakes_three_messages(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "bad.yaml",
        """
        server:
          port: eighty
        databse:
          url: sqlite:////tmp/x.db
        redis:
          url: {$env: HOTSPOT_MISSING_REDIS}
        """,
    )
    assert problems(cfg) == [
        f"{cfg}:2: server.port: expected a whole number, got 'eighty'",
        f"{cfg}:3: databse: unknown key (did you mean 'database'?)",
        f"{cfg}:6: redis.url: environment variable HOTSPOT_MISSING_REDIS is not set (referenced by $env)",
    ]


def test_config_check_cli_prints_each_problem_and_exits_1(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "bad.yaml",
        """
        server:
          workers: many
        jobs:
          poll_secs: 3
        security:
          secret_key: {$env: HOTSPOT_SECRET_NOT_SET}
        """,
    )
    result = CliRunner().invoke(main, ["config", "check", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    out = result.output
    assert "3 problem(s)" in out
    assert f"{cfg}:2: server.workers: expected a whole number, got 'many'" in out
    assert f"{cfg}:4: jobs.poll_secs: unknown key (did you mean 'poll_seconds'?)" in out
    assert f"{cfg}:6: security.secret_key: environment variable HOTSPOT_SECRET_NOT_SET is not set" in out


def test_config_check_ok(tmp_path: Path) -> None:
    cfg = write(tmp_path / "ok.yaml", "business:\n  name: Mama Mboga WiFi\n")
    result = CliRunner().invoke(main, ["config", "check", str(cfg)], env={"HOTSPOT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output and str(tmp_path) in result.output


def test_config_check_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.yaml", "server:\n  port: 80\n  host: [unclosed\n")
    [message] = problems(cfg)
    assert message.startswith(f"{cfg}:") and "not valid YAML" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.yaml", "- just\n- a list\n")
    assert problems(cfg) == [f"{cfg}:1: (top level): the file must be a mapping of keys to values"]


def test_values_are_checked_not_just_types(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.yaml",
        """
        server:
          port: 70000
          public_url: wifi.example.com
        business:
          timezone: Nairobi
          currency: kes
        database:
          url: mysql://x
        logging:
          level: LOUD
        """,
    )
    found = problems(cfg)
    assert any(
        m.startswith(f"{cfg}:2: server.port: input should be less than or equal to 65535") for m in found
    )
    assert f"{cfg}:3: server.public_url: must start with http:// or https:// followed by a host" in found
    assert any("business.timezone: unknown time zone 'Nairobi'" in m for m in found)
    assert any(m.startswith(f"{cfg}:6: business.currency:") for m in found)
    # a URL may carry a password, so its value is never echoed back
    assert f"{cfg}:8: database.url: must start with sqlite:/// or postgresql://" in found
    assert any(m.startswith(f"{cfg}:10: logging.level:") for m in found)


def test_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.yaml", "security:\n  secret_key: {$file: /nonexistent/key}\n")
    assert problems(cfg) == [
        f"{cfg}:2: security.secret_key: cannot read secret file /nonexistent/key: No such file or directory"
    ]


def test_generated_secret_key_is_stable_and_private(tmp_path: Path) -> None:
    settings = load_settings(None, env={"HOTSPOT_DATA_DIR": str(tmp_path / "d")})
    first = secret_key(settings)
    assert len(first) >= 48 and first == secret_key(settings)
    mode = stat.S_IMODE(os.stat(tmp_path / "d" / "secret_key").st_mode)
    assert mode == 0o600


def test_example_config_documents_every_key_and_is_valid(tmp_path: Path) -> None:
    """config.example.yaml must validate, and must mention every settings field."""
    from pydantic import BaseModel

    from hotspot.config import Settings

    example = REPO / "config.example.yaml"
    text = example.read_text(encoding="utf-8")
    env = {"HOTSPOT_DATA_DIR": str(tmp_path)} | {
        name: "mailtos://user:pass@example.com?to=owner@example.com" if name.endswith("_URL") else "x" * 40
        for name in _env_refs(text)
    }
    installed = discover()
    load_settings(example, env=env, plugins=settings_models(installed))

    def keys(model: type[BaseModel]) -> set[str]:
        out: set[str] = set()
        for name, field in model.model_fields.items():
            out.add(field.alias or name)
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                out |= keys(ann)
        return out

    documented = {key for key in keys(Settings) if key != "source"}
    for plugin in installed.values():
        documented |= keys(plugin.config_model)
    missing = sorted(k for k in documented if f"{k}:" not in text)
    assert not missing, f"config.example.yaml does not document: {missing}"


def _env_refs(text: str) -> list[str]:
    import re

    return re.findall(r"\$env:\s*([A-Z0-9_]+)", text)


def test_a_disabled_plugin_may_lack_its_secrets(third_party_plugin: Path, tmp_path: Path) -> None:
    """Switching a plugin off and removing its credentials must not stop the box from starting."""
    cfg = write(
        tmp_path / "c.yaml",
        """
        plugins:
          examplegw:
            enabled: false
            counter_name: {$env: COUNTER_NAME_GONE}
        """,
    )
    models = settings_models(discover())
    settings = load_settings(cfg, env={"HOTSPOT_DATA_DIR": str(tmp_path)}, plugins=models)
    assert settings.plugin("examplegw").enabled is False
    cfg.write_text(cfg.read_text().replace("enabled: false", "enabled: true"))
    with pytest.raises(
        ConfigError, match=r"plugins\.examplegw\.counter_name: environment variable COUNTER_NAME_GONE"
    ):
        load_settings(cfg, env={"HOTSPOT_DATA_DIR": str(tmp_path)}, plugins=models)
    # typos are still caught while disabled
    cfg.write_text(
        cfg.read_text().replace("enabled: true", "enabled: false").replace("counter_name", "counter_nme")
    )
    with pytest.raises(ConfigError, match="counter_nme: unknown key"):
        load_settings(cfg, env={"HOTSPOT_DATA_DIR": str(tmp_path)}, plugins=models)
