"""The suite's own layout: pytest (rootdir imports, no __init__.py) needs unique test file names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_file_names_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == [], "rename one: a full run stops at collection"
