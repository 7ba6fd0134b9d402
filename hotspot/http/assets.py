"""Where templates and static files are: inside the wheel (hotspot/web) or the source tree (web/)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["static_dir", "templates_dir", "web_dir"]


@cache
def web_dir() -> Path:
    """The wheel ships web/ as hotspot/web; an editable install reads the checkout's web/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "web", package.parent / "web"):
        if (candidate / "templates").is_dir():
            return candidate
    raise RuntimeError(f"web assets not found next to {package}; the installation is incomplete")


def templates_dir() -> Path:
    return web_dir() / "templates"


def static_dir() -> Path:
    return web_dir() / "static"
