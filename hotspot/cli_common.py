"""Options every command group shares (the core's and each domain's: admin, promos, vouchers).

Its own module so a domain's CLI can use it without importing hotspot.cli, which imports the
domains' command groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hotspot.config import CONFIG_ENV

__all__ = ["config_option"]

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        envvar=CONFIG_ENV,
        help=f"YAML config file (default: ${CONFIG_ENV}, else ./config.yaml, else built-in defaults).",
    )(func)
