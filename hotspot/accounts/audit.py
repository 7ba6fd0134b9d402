"""The audit log: who changed what, before and after, when and from where. Append-only.

`AuditLog.record` is the only writer and it only inserts; there is deliberately no method that
updates or deletes an entry (tests/core/accounts/test_audit.py greps the code to prove it, and
database triggers refuse it). Call `record` inside the transaction that makes the change, so a
change and its entry commit or roll back together.

Snapshots must never hold secrets: callers pass the public view of what changed.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotspot.accounts.tables import AuditEntry
from hotspot.db import Database

__all__ = ["Actor", "AuditFilter", "AuditLog", "AuditPage", "csv_safe"]

CSV_COLUMNS = ["id", "at", "actor", "action", "target_type", "target_id", "ip", "before", "after"]


@dataclass(frozen=True)
class Actor:
    """Who did it: an admin (id and username), or the CLI / the system itself (id None)."""

    name: str
    id: int | None = None


@dataclass(frozen=True)
class AuditFilter:
    """Search terms; every one is optional and they combine with AND."""

    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." / "*" (e.g. "admin.")
    target_type: str | None = None
    target_id: str | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    next_cursor: int | None  # pass as `before_id` for the next (older) page


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def record(
        self,
        actor: Actor,
        action: str,
        target: tuple[str, Any] = ("", None),
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        ip: str | None = None,
    ) -> None:
        """Append one entry. `target` is (type, id), e.g. ("admin", 7)."""
        target_type, target_id = target
        async with self.db.write_lock():
            await AuditEntry.insert(
                AuditEntry(
                    at=self.clock(),
                    actor_id=actor.id,
                    actor=actor.name[:64],
                    action=action[:64],
                    target_type=target_type[:32],
                    target_id=None if target_id is None else str(target_id)[:64],
                    before=None if before is None else json.dumps(dict(before), default=str),
                    after=None if after is None else json.dumps(dict(after), default=str),
                    ip=ip[:45] if ip else None,
                )
            ).run()

    async def search(self, terms: AuditFilter, *, limit: int = 50, before_id: int | None = None) -> AuditPage:
        """Newest first; keyset pagination on the id, so pages stay stable while entries arrive."""
        limit = max(1, min(limit, 500))
        query = AuditEntry.select().order_by(AuditEntry.id, ascending=False).limit(limit + 1)
        for clause in _where(terms, before_id):
            query = query.where(clause)
        rows = await query.run()
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage([_entry(r) for r in rows], rows[-1]["id"] if more and rows else None)

    async def export_csv(self, terms: AuditFilter, *, batch: int = 500) -> AsyncIterator[str]:
        """The matching entries as CSV text chunks, newest first, read in batches (any size log)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        yield _drain(out)
        cursor: int | None = None
        while True:
            page = await self.search(terms, limit=batch, before_id=cursor)
            for e in page.entries:
                writer.writerow(
                    csv_safe(
                        [
                            e["id"],
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["at"])),
                            e["actor"],
                            e["action"],
                            e["target_type"],
                            e["target_id"] or "",
                            e["ip"] or "",
                            "" if e["before"] is None else json.dumps(e["before"], sort_keys=True),
                            "" if e["after"] is None else json.dumps(e["after"], sort_keys=True),
                        ]
                    )
                )
            yield _drain(out)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _where(terms: AuditFilter, before_id: int | None) -> list[Any]:
    clauses: list[Any] = []
    if before_id is not None:
        clauses.append(AuditEntry.id < before_id)
    if terms.actor:
        clauses.append(AuditEntry.actor == terms.actor)
    if terms.action:
        if terms.action.endswith(("*", ".")):
            prefix = terms.action.rstrip("*").replace("%", "")  # "_" may match any one character
            clauses.append(AuditEntry.action.like(f"{prefix}%"))
        else:
            clauses.append(AuditEntry.action == terms.action)
    if terms.target_type:
        clauses.append(AuditEntry.target_type == terms.target_type)
    if terms.target_id:
        clauses.append(AuditEntry.target_id == terms.target_id)
    if terms.since is not None:
        clauses.append(AuditEntry.at >= terms.since)
    if terms.until is not None:
        clauses.append(AuditEntry.at < terms.until)
    return clauses


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": row["at"],
        "actor": row["actor"],
        "actor_id": row["actor_id"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "before": _json(row["before"]),
        "after": _json(row["after"]),
        "ip": row["ip"],
    }


def _json(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_safe(cells: list[Any]) -> list[str]:
    """Defuse spreadsheet formulas: a cell starting with = + - @ (or a tab/CR) gets a leading quote."""
    out: list[str] = []
    for cell in cells:
        text = str(cell)
        out.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
    return out
