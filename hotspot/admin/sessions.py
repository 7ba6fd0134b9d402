"""The sessions the admin sees: who is online now and the history, newest first, in pages.

Why keyset pages (started_at, id) and no total count: an OFFSET or COUNT over a million history
rows reads them all; a keyset page reads one index range whatever page the owner is on
(indexes in the access app's migrations). The search box takes what an owner has at hand: a
MAC, an IP, a phone number or the start of a username.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hotspot.access.tables import Session
from hotspot.db import Database
from hotspot.payments.phone import InvalidPhone, normalize_phone

__all__ = ["Page", "SessionFilter", "SessionQueryError", "SessionRow", "Sessions"]

MAX_LIMIT = 200
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_CURSOR = re.compile(r"^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)_(\d+)$")


class SessionQueryError(ValueError):
    """A filter or cursor that cannot be used (the message names the field)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SessionFilter:
    router: str | None = None
    package: str | None = None
    source: str | None = None  # order | voucher | admin
    q: str | None = None  # MAC, IP, phone or username prefix


@dataclass(frozen=True)
class SessionRow:
    id: int
    grant_id: int
    username: str
    source: str
    source_ref: str | None
    phone: str | None
    mac: str
    ip: str
    router: str
    package: str
    state: str
    started_at: float
    last_seen_at: float
    ended_at: float | None
    uptime_seconds: int
    bytes_in: int  # this session, from the device (upload)
    bytes_out: int  # this session, to the device (download)
    rate_in_bps: int
    rate_out_bps: int
    remaining_seconds: int | None  # of the grant; None = no time limit
    remaining_bytes: int | None  # of the grant; None = no data cap

    @property
    def cursor(self) -> str:
        return f"{self.started_at!r}_{self.id}"


@dataclass(frozen=True)
class Page:
    rows: list[SessionRow]
    next_cursor: str | None  # None on the last page


def _search(q: str) -> tuple[str, Any]:
    """The condition the search text means, and its value."""
    text = q.strip()
    if _MAC.match(text):
        return "s.mac = {}", text.upper().replace("-", ":")
    try:
        return "s.ip = {}", str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if re.fullmatch(r"[+\d\s()-]{9,}", text):
        try:
            return "o.phone = {}", normalize_phone(text)
        except InvalidPhone as exc:
            raise SessionQueryError(str(exc), "q") from None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "g.username LIKE {} ESCAPE '\\'", escaped + "%"


class Sessions:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def active(
        self, filters: SessionFilter | None = None, after: str | None = None, limit: int = 50
    ) -> Page:
        """Devices online now (as the last usage sync saw them), newest first."""
        return await self._page("open", filters or SessionFilter(), after, limit)

    async def history(
        self, filters: SessionFilter | None = None, after: str | None = None, limit: int = 50
    ) -> Page:
        """Sessions that have ended, newest first."""
        return await self._page("ended", filters or SessionFilter(), after, limit)

    @staticmethod
    async def active_by_router() -> dict[str, int]:
        """Customers online per router, in one query (the overview's and the routers page's)."""
        rows = await Session.raw(
            "SELECT router, COUNT(*) AS n FROM hotspot_session WHERE ended_at IS NULL GROUP BY router"
        ).run()
        return {str(r["router"]): int(r["n"]) for r in rows}

    async def count_active(self, router: str | None = None) -> int:
        query = Session.count().where(Session.ended_at.is_null())
        if router:
            query = query.where(Session.router == router)
        return int(await query.run())

    async def _page(
        self, which: Literal["open", "ended"], f: SessionFilter, after: str | None, limit: int
    ) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise SessionQueryError(f"limit must be 1-{MAX_LIMIT}", "limit")
        where = ["s.ended_at IS NULL" if which == "open" else "s.ended_at IS NOT NULL"]
        args: list[Any] = []
        for column, value in (("s.router", f.router), ("g.profile", f.package), ("g.source", f.source)):
            if value:
                where.append(f"{column} = {{}}")
                args.append(value)
        if f.q and f.q.strip():
            condition, value = _search(f.q)
            where.append(condition)
            args.append(value)
        if after:
            match = _CURSOR.match(after)
            if match is None:
                raise SessionQueryError("not a page cursor from this list", "after")
            started, row_id = float(match.group(1)), int(match.group(2))
            where.append("(s.started_at < {} OR (s.started_at = {} AND s.id < {}))")
            args += [started, started, row_id]
        # SQLite's planner prefers the ended_at index and then sorts every open session (30 ms at
        # 10,000), or starts from the grants for a package filter and sorts a million rows (2 s).
        # Walking the newest-first index and stopping at the page is what a keyset page needs; a
        # MAC, IP or phone search keeps the planner's choice (their own indexes are better).
        walk = ""
        if self.db.is_sqlite and not (f.q and f.q.strip()):
            index = "hotspot_session_open_recent" if which == "open" else "hotspot_session_recent"
            walk = f" INDEXED BY {index} CROSS"
        sql = (
            "SELECT s.id, s.grant AS grant_id, s.router, s.mac, s.ip, s.started_at, s.last_seen_at,"  # noqa: S608 (placeholders and fixed SQL only)
            " s.ended_at, s.uptime_seconds, s.bytes_in, s.bytes_out, s.rate_in_bps, s.rate_out_bps,"
            " g.username, g.profile, g.source, g.source_ref, g.state, g.expires_at, g.seconds,"
            " g.bytes_total, g.bytes_in AS g_in, g.bytes_out AS g_out, o.phone"
            f" FROM hotspot_session s{walk} JOIN hotspot_grant g ON g.id = s.grant"
            " LEFT JOIN hotspot_order o ON g.source = 'order' AND o.id = g.source_ref"
            f" WHERE {' AND '.join(where)}"
            " ORDER BY s.started_at DESC, s.id DESC LIMIT {}"
        )
        rows = await Session.raw(sql, *args, limit + 1).run()
        now = self.clock()
        page = [self._row(r, now) for r in rows[:limit]]
        return Page(page, page[-1].cursor if len(rows) > limit else None)

    @staticmethod
    def _row(r: dict[str, Any], now: float) -> SessionRow:
        if r["expires_at"] is not None:
            remaining_s: int | None = max(int(r["expires_at"] - now), 0)
        else:
            remaining_s = r["seconds"]  # not started on a router yet: the whole allowance
        used = int(r["g_in"] or 0) + int(r["g_out"] or 0)
        remaining_b = None if r["bytes_total"] is None else max(int(r["bytes_total"]) - used, 0)
        return SessionRow(
            id=int(r["id"]),
            grant_id=int(r["grant_id"]),
            username=str(r["username"]),
            source=str(r["source"]),
            source_ref=r["source_ref"],
            phone=r["phone"],
            mac=str(r["mac"]),
            ip=str(r["ip"]),
            router=str(r["router"]),
            package=str(r["profile"]),
            state=str(r["state"]),
            started_at=float(r["started_at"]),
            last_seen_at=float(r["last_seen_at"]),
            ended_at=None if r["ended_at"] is None else float(r["ended_at"]),
            uptime_seconds=int(r["uptime_seconds"]),
            bytes_in=int(r["bytes_in"]),
            bytes_out=int(r["bytes_out"]),
            rate_in_bps=int(r["rate_in_bps"]),
            rate_out_bps=int(r["rate_out_bps"]),
            remaining_seconds=remaining_s,
            remaining_bytes=remaining_b,
        )
