"""Read YAML into Settings, naming the key, the expectation and the line of every mistake."""

from __future__ import annotations

import difflib
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
import yaml
from pydantic import BaseModel, ValidationError

from hotspot.config._settings import PluginSettings, Settings
from hotspot.config._stored import nest, read_stored_settings, settings_box, unseal
from hotspot.errors import ConfigError, ConfigProblem
from hotspot.secrets_box import SecretUnreadable

__all__ = [
    "CONFIG_ENV",
    "DATA_DIR_ENV",
    "find_config_file",
    "load_settings",
    "resolve_data_dir",
    "secret_key",
]

CONFIG_ENV = "HOTSPOT_CONFIG"
DATA_DIR_ENV = "HOTSPOT_DATA_DIR"
_SENSITIVE = ("key", "secret", "password", "token", "url", "passkey", "pin")
log = logging.getLogger("hotspot.config")
STORED_SOURCE = "settings saved in the admin"  # where a problem with a stored setting is said to be
DISCOUNTS = "discounts"  # the stored list of automatic discount rules (hotspot.admin.promos_page)

Lines = dict[tuple[str | int, ...], int]


def find_config_file(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """--config, else $HOTSPOT_CONFIG, else ./config.yaml when present, else None (embedded defaults)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    local = Path("config.yaml")
    return local if local.is_file() else None


def resolve_data_dir(configured: Any, env: Mapping[str, str] | None = None) -> Path:
    """data_dir from YAML, else $HOTSPOT_DATA_DIR, else the per-user data folder."""
    env = os.environ if env is None else env
    if configured:
        return Path(str(configured)).expanduser()
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    return Path(platformdirs.user_data_dir("hotspot", appauthor=False))


def load_settings(
    path: str | Path | None = None,
    *,
    plugins: Mapping[str, type[PluginSettings]] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    stored: bool = False,
) -> Settings:
    """Load and validate everything; raise ConfigError listing every problem, or return Settings.

    `plugins` maps each installed plugin's name to its settings model, so a plugin validates its
    own block. `overrides` is merged over the file (used by tests and the CLI's flags).
    `stored` lays the settings saved in the admin / setup wizard (hotspot.config._stored) under
    the file: the app and `hotspot serve` read them, so a wizard-made install needs no YAML.
    """
    settings = _load_layers(path, plugins, env, overrides, None)
    if not stored:
        return settings
    rows = read_stored_settings(settings.database_url)
    if not rows:
        return settings
    box = settings_box(secret_key(settings))
    readable: dict[str, Any] = {}
    for key, value in rows.items():
        try:
            readable[key] = unseal(value, box)
        except SecretUnreadable:
            log.warning(
                "the saved setting %s cannot be decrypted (the secret key changed); enter it again", key
            )
    try:
        return _load_layers(path, plugins, env, overrides, readable)
    except ConfigError as exc:
        kept = _without_bad_rules(exc, readable)
        if kept is None:
            raise
        return _load_layers(path, plugins, env, overrides, kept)


def _without_bad_rules(exc: ConfigError, stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored settings without the discount rules `exc` refuses, when those are all it
    refuses (logged, naming each key); else None. A rule saved in the admin by an older version
    (a day in year 9999, say) must not keep the box from starting: it prices nothing until the
    owner fixes it, while a mistake in the YAML still stops the box."""
    rules = stored.get(DISCOUNTS)
    bad: set[int] = set()
    for problem in exc.problems:
        if problem.source != STORED_SOURCE or not problem.path.startswith(f"{DISCOUNTS}["):
            return None
        index = problem.path.removeprefix(f"{DISCOUNTS}[").split("]", 1)[0]
        if not re.fullmatch(r"[0-9]{1,6}", index):
            return None
        bad.add(int(index))
    if not bad or not isinstance(rules, list):
        return None
    for problem in exc.problems:
        log.error(
            "the saved discount %s is left out: %s (edit it under Promos & discounts)",
            problem.path,
            problem.message,
        )
    return {**stored, DISCOUNTS: [r for i, r in enumerate(rules) if i not in bad]}


def _load_layers(
    path: str | Path | None,
    plugins: Mapping[str, type[PluginSettings]] | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
    stored: Mapping[str, Any] | None,
) -> Settings:
    """Validate stored settings < YAML file < overrides; `pinned` lists what the file (or overrides) set."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    source = str(file) if file else None
    raw, lines = _read_yaml(file) if file else ({}, {})
    raw = _merge(raw, dict(overrides or {}))
    pinned = sorted(_leaves(raw))
    stored_keys = tuple(stored or {})
    if stored:
        raw = _merge(nest(stored), raw)
    problems: list[ConfigProblem] = []

    def problem(loc: tuple[str | int, ...], message: str) -> None:
        dotted = _dotted(loc)
        stored_here = any(dotted == k or dotted.startswith((k + ".", k + "[")) for k in stored_keys)
        if loc not in lines and stored_here:
            problems.append(ConfigProblem(dotted, message, STORED_SOURCE))
            return
        problems.append(ConfigProblem(dotted, message, source, _line_of(lines, loc)))

    plugin_blocks = raw.pop("plugins", None) or {}
    resolved = _resolve_secrets(raw, (), problem, env)
    resolved["data_dir"] = str(resolve_data_dir(resolved.get("data_dir"), env))
    resolved["source"] = source

    plugin_settings: dict[str, PluginSettings] = {}
    if not isinstance(plugin_blocks, dict):
        problem(("plugins",), "expected a mapping of plugin name to its settings")
        plugin_blocks = {}
    known = dict(plugins or {})
    for name, block in plugin_blocks.items():
        loc: tuple[str | int, ...] = ("plugins", name)
        model = known.get(name)
        if model is None:
            problem(loc, f"no plugin named {name!r} is installed{_did_you_mean(name, known)}")
            continue
        validated = _validate_plugin_block(loc, block, model, problem, env)
        if validated is not None:
            plugin_settings[name] = validated

    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        for err in exc.errors():
            problem(tuple(err["loc"]), _describe(err, Settings, tuple(err["loc"])))
        settings = None

    if problems or settings is None:
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise ConfigError(problems)
    final = settings.model_copy(update={"plugins": plugin_settings})
    final._pinned = frozenset(pinned)
    return final


def _validate_plugin_block(
    loc: tuple[str | int, ...],
    block: Any,
    model: type[PluginSettings],
    problem: Any,
    env: Mapping[str, str],
) -> PluginSettings | None:
    """Validate one plugin's block. A disabled plugin's missing secrets are not errors: an owner
    who switches M-Pesa off and removes its credentials must still be able to start the box."""
    block = {} if block is None else block
    if not isinstance(block, dict):
        problem(loc, "expected a mapping of keys to values")
        return None
    enabled = block.get("enabled") is True
    unresolved: list[tuple[str | int, ...]] = []

    def secret_problem(where: tuple[str | int, ...], message: str) -> None:
        if enabled:
            problem(where, message)
        else:
            unresolved.append(where)

    resolved = _resolve_secrets(block, loc, secret_problem, env)
    try:
        return model.model_validate(resolved)
    except ValidationError as exc:
        reported = False
        for err in exc.errors():
            where = loc + tuple(err["loc"])
            if err["type"] != "extra_forbidden" and any(where[: len(u)] == u for u in unresolved):
                continue
            problem(where, _describe(err, model, tuple(err["loc"])))
            reported = True
        return None if reported else PluginSettings(enabled=False)


def secret_key(settings: Settings) -> str:
    """The configured secret key, else one generated once into data_dir/secret_key (mode 0600)."""
    if settings.security.secret_key is not None:
        return settings.security.secret_key.get_secret_value()
    path = settings.data_dir / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


# --- YAML with line numbers -------------------------------------------------------------


def _read_yaml(file: Path) -> tuple[dict[str, Any], Lines]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem("", f"cannot read the file: {exc.strerror}", str(file))]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem("", f"not valid YAML: {reason}", str(file), line)]) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem("", "the file must be a mapping of keys to values", str(file), 1)])
    lines: Lines = {}
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node: yaml.Node | None, loc: tuple[str | int, ...], lines: Lines) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*loc, key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _collect_lines(item, (*loc, index), lines)


def _line_of(lines: Lines, loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest part of loc that the file has (a missing key points at its parent)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _leaves(data: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted keys of every value a mapping sets (a list or a $env/$file indirection is one value)."""
    out: set[str] = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if (
            isinstance(value, dict)
            and value
            and not (len(value) == 1 and next(iter(value)) in ("$env", "$file"))
        ):
            out |= _leaves(value, dotted + ".")
        else:
            out.add(dotted)
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# --- secrets ---------------------------------------------------------------------------------


def _resolve_secrets(value: Any, loc: tuple[str | int, ...], problem: Any, env: Mapping[str, str]) -> Any:
    """Replace {$env: NAME} and {$file: PATH} with their values; report what cannot be read."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("$env", "$file"):
            kind, ref = next(iter(value.items()))
            if not isinstance(ref, str) or not ref:
                problem(loc, f"{kind} needs a name, e.g. {{{kind}: NAME}}")
                return None
            if kind == "$env":
                if ref not in env:
                    problem(loc, f"environment variable {ref} is not set (referenced by $env)")
                    return None
                return env[ref]
            try:
                return Path(ref).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                problem(loc, f"cannot read secret file {ref}: {exc.strerror}")
                return None
        return {k: _resolve_secrets(v, (*loc, k), problem, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, (*loc, i), problem, env) for i, v in enumerate(value)]
    return value


# --- messages --------------------------------------------------------------------------------

_EXPECTED = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping of keys to values",
    "model_type": "expected a mapping of keys to values",
    "list_type": "expected a list",
    "path_type": "expected a folder path",
    "missing": "is required",
}


def _describe(err: Mapping[str, Any], model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key{_did_you_mean(str(loc[-1]), _fields_at(model, loc[:-1]))}"
    if kind in _EXPECTED:
        message = _EXPECTED[kind]
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = str(err["msg"])
        message = message[0].lower() + message[1:] if message else message
    if kind != "missing" and not any(s in _dotted(loc).lower() for s in _SENSITIVE):
        got = err.get("input")
        if not isinstance(got, dict | list):
            message += f", got {got!r}"
    return message


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Names a mapping at loc accepts (fields of the nested model there), for suggestions."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", {})
    names = [f.alias or n for n, f in fields.items()]
    return [n for n in names if n != "source"]


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
