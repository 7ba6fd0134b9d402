"""Every hook in the contract has a test named test_hook_<name> somewhere in tests/ (datasette's rule)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hotspot.plugins.manager import new_plugin_manager

TESTS = Path(__file__).resolve().parent.parent


def _test_function_names() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_hook_"
            ):
                names.add(node.name)
    return names


HOOKS = sorted(name for name in dir(new_plugin_manager().hook) if not name.startswith("_"))
TESTED = _test_function_names()


def test_the_contract_has_hooks() -> None:
    assert "register_payment_gateways" in HOOKS and "payment_confirmed" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{hook}" in TESTED, f"hook {hook!r} has no test named test_hook_{hook}"
