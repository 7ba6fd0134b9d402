"""Import boundaries, checked on the source (AST), so a violation fails before it is ever imported.

* the core (hotspot/) never imports a plugin package (hotspot_*): plugins depend on the core,
  never the other way round, and the core works with no plugin installed;
* a plugin never imports another plugin: each is installed, enabled and removed on its own;
* a plugin imports only the public API modules of the core (PUBLIC_API below), which is what
  third-party plugins may rely on; everything else in hotspot/ may change without notice.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "hotspot"
PLUGINS = ROOT / "plugins"
THIRD_PARTY = ROOT / "tests" / "thirdparty"

# The modules a plugin may import. Widening this list widens the promise made to plugin authors.
PUBLIC_API = ("hotspot", "hotspot.config", "hotspot.contracts", "hotspot.errors", "hotspot.plugins")


@dataclass(frozen=True)
class Import:
    module: str
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}: imports {self.module}"


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _is_core_submodule(dotted: str) -> bool:
    """True when `dotted` (e.g. hotspot.runtime) names a module or package in the checkout."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(file: Path) -> Iterator[Import]:
    """Every absolute import in a file, including `from pkg import submodule` and import_module("x")."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, file, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                continue  # relative: the package's own modules
            yield Import(node.module, file, node.lineno)
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if node.module.split(".")[0] == "hotspot" and _is_core_submodule(dotted):
                    yield Import(dotted, file, node.lineno)  # `from hotspot import runtime`
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
            ):
                yield Import(arg.value, file, node.lineno)


def _top(module: str) -> str:
    return module.split(".")[0]


def _plugin_packages() -> list[Path]:
    return sorted(p for p in PLUGINS.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def _third_party_packages() -> list[Path]:
    return sorted(p for p in THIRD_PARTY.glob("hotspot_*") if p.is_dir() and (p / "__init__.py").is_file())


def test_the_trees_exist() -> None:
    """Guards against the scans below silently passing over nothing."""
    assert len(_python_files(CORE)) > 10
    assert _plugin_packages(), "no plugin package found under plugins/"
    assert all(p.name.startswith("hotspot_") for p in _plugin_packages()), (
        "plugin packages under plugins/ are named hotspot_<name>"
    )


def test_public_api_is_the_documented_list() -> None:
    assert PUBLIC_API == (
        "hotspot",
        "hotspot.config",
        "hotspot.contracts",
        "hotspot.errors",
        "hotspot.plugins",
    )
    for module in PUBLIC_API:
        assert _is_core_submodule(module), f"public API module {module} does not exist"


def test_core_does_not_import_plugins() -> None:
    bad = [
        str(imp)
        for file in _python_files(CORE)
        for imp in _imports(file)
        if _top(imp.module).startswith("hotspot_")
    ]
    assert not bad, "the core must not import plugin packages:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", _plugin_packages(), ids=lambda p: p.name)
def test_plugin_does_not_import_other_plugins(package: Path) -> None:
    bad = [
        str(imp)
        for file in _python_files(package)
        for imp in _imports(file)
        if _top(imp.module).startswith("hotspot_") and _top(imp.module) != package.name
    ]
    assert not bad, f"{package.name} must not import other plugins:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", [*_plugin_packages(), *_third_party_packages()], ids=lambda p: p.name)
def test_plugin_uses_only_the_public_api(package: Path) -> None:
    bad = [
        f"{imp} (allowed: {', '.join(PUBLIC_API)})"
        for file in _python_files(package)
        for imp in _imports(file)
        if _top(imp.module) == "hotspot" and imp.module not in PUBLIC_API
    ]
    assert not bad, f"{package.name} reaches into core internals:\n" + "\n".join(bad)


def test_the_scanner_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import hotspot_a.x\n"
        "from hotspot_b import y\n"
        "from hotspot import runtime, PluginInfo\n"
        "from . import sibling\n"
        "import importlib\n"
        "importlib.import_module('hotspot.db')\n",
        encoding="utf-8",
    )
    found = [imp.module for imp in _imports(sample)]
    assert "hotspot_a.x" in found and "hotspot_b" in found
    assert "hotspot" in found and "hotspot.runtime" in found and "hotspot.db" in found
    assert "hotspot.PluginInfo" not in found and not any("sibling" in m for m in found)
