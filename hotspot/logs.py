"""Logging: human lines by default, one JSON object per line with `logging.json: true`.

Every record carries the request id of the HTTP request it happened in (or "-"), so one
customer's failed payment can be followed through the log.

Lines go to stderr in batches (`BatchedStderrHandler`): one line per request, each its own
write(), cost the portal's landing page a third of its throughput (under granian a system
call also hands the GIL to the server's threads). INFO lines are written at most
FLUSH_SECONDS late; WARNING and above at once, with everything before them.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import logging
import multiprocessing.util
import os
import sys
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any, TextIO

from hotspot.config import LoggingSettings

__all__ = ["BatchedStderrHandler", "JsonFormatter", "configure_logging", "request_id_var"]

FLUSH_SECONDS = 0.5
_LINE = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `extra=` fields are kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class _LineFormatter(logging.Formatter):
    """logging.Formatter whose asctime is formatted once per second (strftime is the slow part)."""

    _cached: tuple[int, str] = (-1, "")  # (second, its text): one attribute, replaced whole

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, text = self._cached
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(second))
            self._cached = (second, text)
        return f"{text},{int(record.msecs):03d}"  # logging.Formatter.default_msec_format


class BatchedStderrHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler on stderr's file descriptor whose lines below WARNING wait in a buffer.

    A daemon thread flushes the buffer `interval` seconds after a line is written; a record at
    WARNING or above is written at once (with the lines before it). Logging's exit hook, a fork
    and `close` flush what is left. The thread starts on first use in each process (a worker
    forked after configure_logging gets its own)."""

    def __init__(self, interval: float = FLUSH_SECONDS, fd: int | None = None) -> None:
        raw = io.FileIO(sys.stderr.fileno() if fd is None else fd, "w", closefd=False)
        stream = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8", errors="replace")
        super().__init__(stream)
        self.interval = interval
        self._waiting = threading.Event()
        self._flusher_pid = 0
        self._closed = False
        _BATCHED.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(line)
                if record.levelno >= logging.WARNING:
                    self.stream.flush()
                    return
            if not self._waiting.is_set():  # set() takes the event's lock and notifies: not per line
                self._waiting.set()
            if self._flusher_pid != os.getpid():
                self._start_flusher()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _start_flusher(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
        threading.Thread(target=self._flush_forever, name="hotspot-log-flush", daemon=True).start()

    def _flush_forever(self) -> None:
        while not self._closed:
            self._waiting.wait()
            time.sleep(self.interval)  # what comes meanwhile goes out in the same write
            self._waiting.clear()
            with contextlib.suppress(ValueError, OSError):  # closed meanwhile, or stderr gone
                self.flush()

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._closed = True
            with contextlib.suppress(ValueError, OSError):
                self.stream.flush()
        self._waiting.set()  # let the thread see it is closed
        super().close()


_BATCHED: weakref.WeakSet[BatchedStderrHandler] = weakref.WeakSet()


def _flush_batched() -> None:
    for handler in list(_BATCHED):
        with contextlib.suppress(ValueError, OSError):
            handler.flush()


# A forked child must not write its parent's pending lines a second time.
os.register_at_fork(before=_flush_batched)
_finalizer_pid = 0


def _flush_at_worker_exit() -> None:
    """A multiprocessing worker (granian's) ends with os._exit, past logging's exit hook, but
    runs the finalizers registered in it (those inherited from the parent are dropped)."""
    global _finalizer_pid
    if _finalizer_pid != os.getpid():
        _finalizer_pid = os.getpid()
        multiprocessing.util.Finalize(None, _flush_batched, exitpriority=0)


def _stderr_handler() -> logging.StreamHandler[TextIO]:
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by something without a descriptor
        return logging.StreamHandler(sys.stderr)
    _flush_at_worker_exit()
    return BatchedStderrHandler()


def configure_logging(settings: LoggingSettings) -> None:
    """Install one handler on the root logger (idempotent: safe to call per worker)."""
    handler = _stderr_handler()
    handler.addFilter(_RequestIdFilter())
    if settings.json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_LineFormatter(_LINE))
    # No format of ours shows the caller, thread or process: skip collecting them for every
    # record (the logging HOWTO's "Optimization" switches; a third of a request line's cost).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_hotspot", False)]:
        root.removeHandler(old)
        old.close()
    handler._hotspot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.level)
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.level)))
