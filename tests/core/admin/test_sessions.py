"""The admin's session lists on both backends: keyset pages, filters, search, remaining."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hotspot.access.tables import Grant, Session
from hotspot.admin.sessions import SessionFilter, SessionQueryError, Sessions
from hotspot.config import Settings
from hotspot.db import Database, all_tables, migrate
from hotspot.payments.tables import Order

NOW = 1_800_000_000.0


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await database.open(all_tables())
    await migrate(database)
    yield database
    await database.close()


async def online(
    n: int,
    *,
    started: float,
    router: str = "r1",
    package: str = "1 hour",
    source: str = "order",
    phone: str | None = None,
    ended: float | None = None,
    expires_at: float | None = NOW + 600,
    bytes_total: int | None = None,
) -> None:
    grant = Grant(
        username=f"G{n:05d}",
        password="p",
        profile=package,
        source=source,
        source_ref=f"o{n}" if source == "order" else str(n),
        seconds=3600,
        bytes_total=bytes_total,
        expires_at=expires_at,
        created_at=started,
        bytes_in=1000,
        bytes_out=4000,
        state="active",
    )
    await grant.save().run()
    if source == "order":
        await (
            Order(
                id=f"o{n}",
                package_id=1,
                package_name=package,
                terms={},
                amount=5000,
                currency="KES",
                phone=phone,
                created_at=started,
                state="paid",
            )
            .save()
            .run()
        )
    await (
        Session(
            grant=grant.id,
            router=router,
            router_session_id=f"*{n}",
            mac=f"AA:BB:CC:00:{n // 256:02X}:{n % 256:02X}",
            ip=f"10.5.{n // 256}.{n % 256}",
            started_at=started,
            last_seen_at=started,
            ended_at=ended,
            bytes_in=10 * n,
            bytes_out=20 * n,
            rate_in_bps=8,
            rate_out_bps=16,
        )
        .save()
        .run()
    )


async def test_pages_walk_every_open_session_once_newest_first(db: Database) -> None:
    for n in range(1, 24):
        await online(n, started=NOW - (n // 3))  # groups of equal start times: ties need the id
    await online(99, started=NOW, ended=NOW + 1)  # ended: not in the open list
    sessions = Sessions(db, clock=lambda: NOW)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await sessions.active(after=cursor, limit=5)
        seen += [int(r.username[1:]) for r in page.rows]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 5 and len(seen) == len(set(seen)) == 23
    starts = [NOW - (n // 3) for n in seen]
    assert starts == sorted(starts, reverse=True)
    assert await sessions.count_active() == 23
    history = await sessions.history()
    assert [r.username for r in history.rows] == ["G00099"] and history.next_cursor is None


async def test_filters_and_search(db: Database) -> None:
    await online(1, started=NOW, router="r1", package="1 hour", phone="254712345678")
    await online(2, started=NOW, router="r2", package="1 day", phone="254799000111")
    await online(3, started=NOW, router="r2", package="1 day", source="voucher")
    sessions = Sessions(db, clock=lambda: NOW)

    async def names(**kw: str) -> list[str]:
        return sorted(r.username for r in (await sessions.active(SessionFilter(**kw))).rows)

    assert await names(router="r2") == ["G00002", "G00003"]
    assert await names(package="1 day", source="voucher") == ["G00003"]
    assert await names(q="aa-bb-cc-00-00-02") == ["G00002"]  # any MAC spelling
    assert await names(q="10.5.0.3") == ["G00003"]
    assert await names(q="0712 345 678") == ["G00001"]  # the phone as the customer says it
    assert await names(q="G0000") == ["G00001", "G00002", "G00003"]
    assert await names(q="G%") == []  # LIKE wildcards are literal
    [row] = (await sessions.active(SessionFilter(q="254712345678"))).rows
    assert row.phone == "254712345678" and row.package == "1 hour" and row.router == "r1"


async def test_remaining_time_and_data(db: Database) -> None:
    await online(1, started=NOW, expires_at=NOW + 90, bytes_total=10_000)
    await online(2, started=NOW, expires_at=None)  # not yet on a router: the whole hour is left
    await online(3, started=NOW, expires_at=NOW - 5, bytes_total=3000)  # run out
    sessions = Sessions(db, clock=lambda: NOW)
    rows = {r.username: r for r in (await sessions.active()).rows}
    assert (rows["G00001"].remaining_seconds, rows["G00001"].remaining_bytes) == (90, 5000)
    assert (rows["G00002"].remaining_seconds, rows["G00002"].remaining_bytes) == (3600, None)
    assert (rows["G00003"].remaining_seconds, rows["G00003"].remaining_bytes) == (0, 0)
    assert (rows["G00001"].rate_in_bps, rows["G00001"].rate_out_bps) == (8, 16)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "1.5_x"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 500}, "limit"),
        ({"filters": SessionFilter(q="0812 345 678")}, "q"),
    ],
)
async def test_bad_cursor_limit_or_search_names_the_field(
    db: Database, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(SessionQueryError) as caught:
        await Sessions(db).active(**kw)  # type: ignore[arg-type]
    assert caught.value.field == field
