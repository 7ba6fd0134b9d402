"""The security log: every SecurityEvent the box emits, kept for the admin and for forensics.

The runtime persists each `security_event` here before fanning it out to plugins (see
Hotspot.emit), whoever raised it: failed logins and lockouts from accounts, suspicious payment
callbacks from payments. Writing the log never raises: a full disk must not turn a failed login
into a 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hotspot.accounts.tables import SecurityEventRecord
from hotspot.contracts import SecurityEvent
from hotspot.db import Database

__all__ = ["SecurityFilter", "SecurityLog"]

log = logging.getLogger("hotspot.accounts")


@dataclass(frozen=True)
class SecurityFilter:
    kind: str | None = None
    severity: str | None = None
    ip: str | None = None
    subject: str | None = None
    since: float | None = None
    until: float | None = None


class SecurityLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def persist(self, event: SecurityEvent) -> None:
        try:
            async with self.db.write_lock():
                await SecurityEventRecord.insert(
                    SecurityEventRecord(
                        at=event.at.timestamp(),
                        kind=event.kind[:64],
                        severity=event.severity,
                        detail=event.detail[:500],
                        ip=event.ip[:45] if event.ip else None,
                        subject=event.subject[:128] if event.subject else None,
                    )
                ).run()
        except Exception:
            log.exception("could not store security event %s", event.kind)

    async def search(
        self, terms: SecurityFilter, *, limit: int = 50, before_id: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first, keyset-paginated on the id; returns (events, next before_id or None)."""
        limit = max(1, min(limit, 500))
        query = (
            SecurityEventRecord.select().order_by(SecurityEventRecord.id, ascending=False).limit(limit + 1)
        )
        clauses: list[Any] = []
        if before_id is not None:
            clauses.append(SecurityEventRecord.id < before_id)
        for column, value in (
            (SecurityEventRecord.kind, terms.kind),
            (SecurityEventRecord.severity, terms.severity),
            (SecurityEventRecord.ip, terms.ip),
            (SecurityEventRecord.subject, terms.subject),
        ):
            if value:
                clauses.append(column == value)
        if terms.since is not None:
            clauses.append(SecurityEventRecord.at >= terms.since)
        if terms.until is not None:
            clauses.append(SecurityEventRecord.at < terms.until)
        for clause in clauses:
            query = query.where(clause)
        rows: list[dict[str, Any]] = await query.run()
        more = len(rows) > limit
        rows = rows[:limit]
        return [dict(r) for r in rows], (rows[-1]["id"] if more and rows else None)
