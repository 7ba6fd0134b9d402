"""The log handler behind every request line (hotspot.logs): batched writes lose nothing.

It lives with the portal tests because the landing page is what it was made for: one write()
per request line cost the landing a third of its throughput.
"""

from __future__ import annotations

import logging
import os
import select
import time

from hotspot.logs import BatchedStderrHandler, _LineFormatter


def _read_until(fd: int, wanted: bytes, seconds: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while wanted not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            data += os.read(fd, 65536)
    return data


def _record(level: int, message: str) -> logging.LogRecord:
    record = logging.LogRecord("hotspot.http", level, __file__, 1, message, (), None)
    record.request_id = "abcdefgh"
    return record


def test_lines_arrive_in_order_warnings_at_once() -> None:
    read_fd, write_fd = os.pipe()
    handler = BatchedStderrHandler(interval=0.05, fd=write_fd)
    handler.setFormatter(_LineFormatter("%(levelname)s [%(request_id)s] %(message)s"))
    try:
        handler.handle(_record(logging.INFO, "GET /portal 200"))
        assert b"INFO [abcdefgh] GET /portal 200\n" in _read_until(read_fd, b"GET /portal 200\n")

        handler.handle(_record(logging.INFO, "before"))
        handler.handle(_record(logging.WARNING, "router down"))
        # The warning is written by handle() itself, with the line before it, in order.
        ready, _, _ = select.select([read_fd], [], [], 0)
        assert ready
        assert os.read(read_fd, 65536) == b"INFO [abcdefgh] before\nWARNING [abcdefgh] router down\n"

        handler.handle(_record(logging.INFO, "last words"))
        handler.close()  # what is pending goes out on close (and at exit, and before a fork)
        assert b"last words\n" in _read_until(read_fd, b"last words\n")
    finally:
        handler.close()
        os.close(read_fd)
        os.close(write_fd)


def test_timestamps_read_as_the_standard_formatters() -> None:
    standard = logging.Formatter("%(asctime)s %(message)s")
    cached = _LineFormatter("%(asctime)s %(message)s")
    for created in (0.0, 1.999, 1_700_000_000.5, 1_700_000_000.0005, 1_700_000_001.25):
        record = _record(logging.INFO, "x")
        record.created, record.msecs = created, (created - int(created)) * 1000 // 1
        assert cached.format(record) == standard.format(record)
