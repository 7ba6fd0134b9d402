"""Setup pages that installed plugins contribute (hook `register_setup_steps`), enabled or not.

The wizard must configure a gateway the box does not use yet, so it asks every *installed*
plugin, each in a plugin manager of its own (the registry only holds enabled ones). A step's
`form` is a pydantic model whose fields are keys of the plugin's YAML block; the wizard draws
it from the model (title, description, first example as placeholder; Literal fields as choices,
labelled by json_schema_extra "labels"; "show_when": "field=value" to show a field only then;
SecretStr fields as password inputs that keep the saved value when left empty; lists as one item
a line). `validate`
connects before anything is saved (HA's config flow), and the answers are saved as the plugin's
block, enabled, with secrets sealed (hotspot.config._stored). The step's `template` is not used.
The core never imports a plugin by name.

`config_step` makes the same kind of form from a plugin's whole settings model (the admin's
plugins page), for plugins with or without a setup step of their own.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, create_model

from hotspot.config import PluginSettings, Settings
from hotspot.contracts import PluginInfo, SetupStep
from hotspot.plugins import InstalledPlugin, call_each
from hotspot.plugins.manager import new_plugin_manager

__all__ = [
    "FormField",
    "PluginStep",
    "answers",
    "config_step",
    "form_fields",
    "parse_step_form",
    "plugin_steps",
    "step_block",
]

FieldKind = Literal["text", "secret", "choice", "number", "switch", "lines"]
_SCALARS = (str, int, float, bool, SecretStr)


@dataclass(frozen=True)
class PluginStep:
    plugin: str  # the plugin's name: its block is plugins.<name>
    info: PluginInfo
    model: type[PluginSettings]
    step: SetupStep

    @property
    def key(self) -> str:
        return f"plugins.{self.plugin}"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    help: str
    kind: FieldKind
    required: bool
    choices: tuple[tuple[str, str], ...] = ()  # (value, label); labels from json_schema_extra "labels"
    value: str = ""
    saved: bool = False  # a secret is saved already (the input stays empty)
    placeholder: str = ""
    show_when: str = ""  # "field=value": shown only then (json_schema_extra "show_when")
    secret: bool = False  # "lines" of secrets: never shown, kept when left empty


def _current_block(settings: Settings, plugin: InstalledPlugin) -> PluginSettings:
    block = settings.plugins.get(plugin.name)
    if block is not None:
        return block
    try:
        return plugin.config_model.model_validate({})
    except ValidationError:
        return plugin.config_model.model_construct()


def _always(kwargs: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    return lambda _: kwargs


def plugin_steps(
    settings: Settings, installed: Mapping[str, InstalledPlugin], *, kind: str | None = None
) -> list[PluginStep]:
    """Every installed plugin's setup steps (optionally only plugins of one kind), by order."""
    found: list[PluginStep] = []
    for name, plugin in installed.items():
        if plugin.module is None or plugin.info is None or (kind and plugin.info.kind != kind):
            continue
        pm = new_plugin_manager()
        pm.register(plugin.module, name=name)
        for outcome in call_each(
            pm.hook.register_setup_steps, _always({"config": _current_block(settings, plugin)})
        ):
            if outcome.error is not None or not isinstance(outcome.result, list | tuple):
                continue
            for step in outcome.result:
                if isinstance(step, SetupStep):
                    found.append(PluginStep(name, plugin.info, plugin.config_model, step))
    return sorted(found, key=lambda s: (s.step.order, s.plugin, s.step.id))


# --- drawing the form ------------------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    args = typing.get_args(annotation)
    if (isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union) and args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), len(rest) < len(args)
    return annotation, False


def _bare(annotation: Any) -> Any:
    """The type inside Annotated[...] (validators and constraints aside)."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation


def _list_item(annotation: Any) -> tuple[bool, bool]:
    """(a list of plain values the form can edit one a line, whether its items are secrets)."""
    if typing.get_origin(annotation) is not list or not typing.get_args(annotation):
        return False, False
    item = _bare(typing.get_args(annotation)[0])
    return item in (str, SecretStr), item is SecretStr


def form_fields(
    step: PluginStep, current: PluginSettings | None, posted: Mapping[str, str] | None = None
) -> list[FormField]:
    """The form's fields with what to show in them: what was posted, else the saved block's values."""
    out: list[FormField] = []
    for name, field in step.step.form.model_fields.items():
        inner, optional = _unwrap(field.annotation)
        inner = _bare(inner)
        is_list, secret_items = _list_item(inner)
        saved_value = getattr(current, name, None) if current is not None else None
        if is_list:
            kind: FieldKind = "lines"
            value = "" if secret_items else "\n".join(str(v) for v in saved_value or [])
        elif inner is SecretStr:
            kind = "secret"
            value = ""
        elif typing.get_origin(inner) is Literal:
            kind = "choice"
            value = str(saved_value) if saved_value is not None else ""
        elif inner is bool:
            kind = "switch"
            value = "1" if saved_value else ""
        elif inner in (int, float):
            kind = "number"
            value = "" if saved_value is None else str(saved_value)
        else:
            kind = "text"
            value = "" if saved_value is None else str(saved_value)
        if posted is not None and kind != "secret" and not secret_items:
            value = str(posted.get(name, ""))
        if not value and kind in ("choice", "text", "number") and field.default not in (None, ...):
            value = str(field.default) if not field.is_required() else value
        examples = field.examples or []
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        labels = extra.get("labels") if isinstance(extra.get("labels"), dict) else {}
        assert isinstance(labels, dict)
        choices = tuple((str(c), str(labels.get(c, str(c).capitalize()))) for c in typing.get_args(inner))
        out.append(
            FormField(
                name=name,
                label=field.title or name.replace("_", " ").capitalize(),
                help=field.description or "",
                kind=kind,
                # a choice or a switch always has a value: never "(optional)"
                required=(field.is_required() and not optional) or kind in ("choice", "switch"),
                choices=choices if kind == "choice" else (),
                value=value,
                saved=(kind == "secret" and saved_value is not None) or (secret_items and bool(saved_value)),
                placeholder=str(examples[0]) if examples else "",
                show_when=str(extra.get("show_when") or ""),
                secret=secret_items,
            )
        )
    return out


def parse_step_form(
    step: PluginStep, posted: Mapping[str, str], current: PluginSettings | None
) -> tuple[BaseModel | None, dict[str, str]]:
    """The posted answers as the step's form model, or errors by field ("" = the whole form).

    Empty optional fields are None; an empty secret keeps the saved one."""
    data: dict[str, Any] = {}
    for name, field in step.step.form.model_fields.items():
        inner, _ = _unwrap(field.annotation)
        inner = _bare(inner)
        raw = str(posted.get(name, "")).strip() if inner is not SecretStr else str(posted.get(name, ""))
        is_list, secret_items = _list_item(inner)
        if is_list:
            items = [line.strip() for line in raw.splitlines() if line.strip()]
            saved_items = getattr(current, name, None) if current is not None else None
            if items:
                data[name] = items
            elif secret_items and saved_items:
                data[name] = saved_items
            elif field.is_required():
                data[name] = []
        elif inner is bool:
            data[name] = raw in ("1", "on", "true", "yes")
        elif raw == "":
            saved = getattr(current, name, None) if current is not None else None
            if inner is SecretStr and saved is not None:
                data[name] = saved
            elif not field.is_required():
                continue
            else:
                data[name] = None
        else:
            data[name] = raw
    try:
        return step.step.form.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else ""
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing" or (err["type"].endswith("_type") and err.get("input") is None):
                message = "Fill this in."
            errors.setdefault(where, message[:1].upper() + message[1:])
        return None, errors


def step_block(
    step: PluginStep, form: BaseModel, current: PluginSettings | None
) -> tuple[PluginSettings | None, dict[str, str]]:
    """The plugin's whole block after these answers, enabled and validated by the plugin's model."""
    base = current.model_dump() if current is not None else {}
    answers = {k: getattr(form, k) for k in type(form).model_fields}
    block = {**base, **answers, "enabled": True}
    try:
        return step.model.model_validate(block), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else ""
            errors.setdefault(
                where if where in answers else "", str(err["msg"]).removeprefix("Value error, ")
            )
        return None, errors


def answers(form: BaseModel) -> dict[str, Any]:
    """The step's answers as plain values for the settings table (secrets revealed, to be sealed)."""
    out: dict[str, Any] = {}
    for key in type(form).model_fields:
        out[key] = _reveal(getattr(form, key))
    return out


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def _editable(annotation: Any) -> bool:
    inner, _ = _unwrap(annotation)
    inner = _bare(inner)
    return inner in _SCALARS or typing.get_origin(inner) is Literal or _list_item(inner)[0]


async def _no_test(form: BaseModel) -> dict[str, str]:
    return {}


def config_step(plugin: InstalledPlugin) -> tuple[PluginStep, list[str]]:
    """A form for the plugin's whole settings model (all but `enabled`), and the names of the
    fields it cannot show (nested settings: those stay in the config file)."""
    model = plugin.config_model
    fields: dict[str, Any] = {}
    skipped: list[str] = []
    for name, field in model.model_fields.items():
        if name == "enabled":
            continue
        if _editable(field.annotation):
            fields[name] = (field.annotation, field)
        else:
            skipped.append(name)
    form = create_model(f"{model.__name__}Form", __config__=ConfigDict(hide_input_in_errors=True), **fields)
    info = plugin.info
    assert info is not None
    step = SetupStep(id=plugin.name, title=plugin.name, template="", form=form, validate=_no_test)
    return PluginStep(plugin.name, info, model, step), skipped
