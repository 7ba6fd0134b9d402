"""`__all__` tells the truth: every listed name exists, and re-exporting packages list all they export."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "hotspot"

# Packages whose __init__ gathers their submodules' public names into one import surface.
REEXPORTING = ("hotspot.config", "hotspot.db", "hotspot.jobs", "hotspot.plugins")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _defines_all(path: Path) -> bool:
    """True when the module assigns __all__ at top level (checked without importing it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def _modules_with_all() -> list[str]:
    return sorted(
        _module_name(path)
        for path in CORE.rglob("*.py")
        if "__pycache__" not in path.parts and path.name != "__main__.py" and _defines_all(path)
    )


MODULES = _modules_with_all()


def test_modules_were_found() -> None:
    assert "hotspot" in MODULES and "hotspot.app" in MODULES
    for package in REEXPORTING:
        assert package in MODULES, f"{package} must define __all__"


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert isinstance(exported, list | tuple), f"{name}.__all__ must be a list"
    assert all(isinstance(item, str) for item in exported), f"{name}.__all__ must hold strings"
    duplicates = sorted({item for item in exported if list(exported).count(item) > 1})
    assert not duplicates, f"{name}.__all__ lists {duplicates} twice"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ lists names the module does not define: {missing}"


def _is_submodule(package: ModuleType, value: object) -> bool:
    return isinstance(value, ModuleType) and value.__name__.startswith(f"{package.__name__}.")


def _public_names(package: ModuleType) -> set[str]:
    """Names a package makes importable: no leading underscore, not `annotations`, not a submodule."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and name != "annotations" and not _is_submodule(package, value)
    }


@pytest.mark.parametrize("name", REEXPORTING)
def test_reexporting_package_lists_everything(name: str) -> None:
    # Import every module first, so submodules that attach themselves to the package are present.
    for other in MODULES:
        importlib.import_module(other)
    package = importlib.import_module(name)
    public = _public_names(package)
    listed = set(package.__all__)
    assert public == listed, (
        f"{name}: public names not in __all__: {sorted(public - listed)}; "
        f"in __all__ but not defined: {sorted(listed - public)}"
    )
