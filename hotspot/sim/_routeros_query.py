"""Print queries (`?name`, `?-name`, `?=name=x`, `?<name=x`, `?>name=x`, `?#ops`) as RouterOS runs them.

Each item is tested with a stack of booleans that starts as infinitely many `true`s; every query
word pushes one result or rewrites the stack; the item is printed when no `false` is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hotspot.sim._routeros_values import Field, Trap, compare_values, normalize, parse_id

__all__ = ["Query", "compile_query"]

Op = Literal["has", "lacks", "eq", "lt", "gt", "stack"]


@dataclass(frozen=True)
class _Word:
    op: Op
    name: str = ""
    value: str = ""


def _parse(word: str) -> _Word:
    body = word[1:]
    if body.startswith("#"):
        ops = body[1:]
        for char in ops:
            if not (char.isdigit() or char in "!&|."):
                raise Trap(f"unknown operation in query: {word}")
        return _Word("stack", value=ops)
    if body.startswith("-"):
        return _Word("lacks", body[1:])
    if body[:1] in ("=", "<", ">"):
        name, _, value = body[1:].partition("=")
        op: Op = {"=": "eq", "<": "lt", ">": "gt"}[body[0]]  # type: ignore[assignment]
        return _Word(op, name, value)
    name, sep, value = body.partition("=")
    return _Word("eq", name, value) if sep else _Word("has", name)


class Query:
    """A compiled list of query words, matched against printed rows."""

    def __init__(self, words: Sequence[_Word], fields: Mapping[str, Field]) -> None:
        self._words = tuple(words)
        self._fields = fields

    def __bool__(self) -> bool:
        return bool(self._words)

    def matches(self, row: Mapping[str, str]) -> bool:
        stack: list[bool] = []
        for word in self._words:
            if word.op == "stack":
                _run_ops(stack, word.value)
            else:
                stack.append(self._test(word, row))
        return all(stack)

    def _test(self, word: _Word, row: Mapping[str, str]) -> bool:
        actual = row.get(word.name)
        if word.op == "has":
            return actual is not None
        if word.op == "lacks":
            return actual is None
        field = self._fields.get(word.name)
        if word.op == "eq":
            if actual is None:
                return word.value == ""  # an unset property reads as empty
            return actual == self._normal(word.name, field, word.value)
        if actual is None:
            return False
        order = compare_values(field, actual, word.value)
        return order < 0 if word.op == "lt" else order > 0

    @staticmethod
    def _normal(name: str, field: Field | None, value: str) -> str:
        if name == ".id":
            number = parse_id(value)
            return f"*{number:X}" if number is not None else value
        if field is None:
            return value
        try:
            return normalize(field, value)
        except ValueError:
            return value


def _run_ops(stack: list[bool], ops: str) -> None:
    """Apply `?#` operations; values below the explicit stack are the initial infinite `true`s."""

    def at(index: int) -> bool:
        return stack[-1 - index] if index < len(stack) else True

    def pop() -> bool:
        return stack.pop() if stack else True

    i = 0
    while i < len(ops):
        char = ops[i]
        if char.isdigit():
            j = i
            while j < len(ops) and ops[j].isdigit():
                j += 1
            value = at(int(ops[i:j]))
            if j == len(ops):  # an index ending the word replaces the whole stack
                stack[:] = [value]
                return
            stack.append(value)
            i = j + 1 if ops[j] == "." else j  # `.` right after an index does nothing
            continue
        if char == "!":
            stack.append(not pop())
        elif char == "&":
            right, left = pop(), pop()
            stack.append(left and right)
        elif char == "|":
            right, left = pop(), pop()
            stack.append(left or right)
        else:  # "." after an operation: push a copy of the top
            stack.append(at(0))
        i += 1


def compile_query(words: Sequence[str], fields: Mapping[str, Field]) -> Query:
    return Query([_parse(word) for word in words], fields)
