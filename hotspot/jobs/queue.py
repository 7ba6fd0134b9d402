"""Durable background work: a row per job, claimed with a lease, retried with backoff.

Why a table and not a Redis queue: the appliance's Redis keeps nothing on disk, and "paid but
not online" must survive a crash. Several app processes may run workers at once: on PostgreSQL
a claim is `FOR UPDATE SKIP LOCKED`, so two workers never take the same row; on SQLite the
claim is one UPDATE under the process's write lock and SQLite's own file lock. A worker that
dies mid-job leaves a `running` row whose lease runs out; the next claim takes it again, so
handlers must be idempotent. Recurring work is a single row (key ``every:<kind>``) that is
rescheduled after each run instead of finishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotspot.db import Database
from hotspot.jobs.tables import Job

__all__ = ["JobContext", "JobFailed", "Jobs"]

log = logging.getLogger("hotspot.jobs")

MAX_BACKOFF = 300.0
Handler = Callable[["JobContext"], Awaitable[None]]


class JobFailed(Exception):
    """Raise from a handler to fail this attempt with a clean message (no traceback logged)."""


@dataclass(frozen=True)
class JobContext:
    """What a handler gets: which job, its payload and how many times it has been tried."""

    id: int
    kind: str
    payload: Mapping[str, Any]
    attempt: int
    key: str | None = None


@dataclass
class _Registered:
    handler: Handler
    every: float | None = None
    max_attempts: int | None = None


@dataclass
class Jobs:
    """Enqueue, schedule and run jobs against the database."""

    db: Database
    lease_seconds: float = 120.0
    poll_seconds: float = 2.0
    concurrency: int = 4
    clock: Callable[[], float] = time.time
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _handlers: dict[str, _Registered] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _urgent: set[asyncio.Task[None]] = field(default_factory=set)  # started by enqueue(urgent=True)

    # --- registration -------------------------------------------------------------------

    def register(
        self, kind: str, handler: Handler, *, every: float | None = None, max_attempts: int | None = None
    ) -> None:
        """Handle jobs of `kind`; with `every`, also run it on that interval (seconds)."""
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        if every is not None and every <= 0:
            raise ValueError("every must be positive")
        self._handlers[kind] = _Registered(handler, every, max_attempts)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    async def ensure_schedules(self) -> None:
        """Make sure each recurring kind has its one row; update its interval if it changed."""
        now = self.clock()
        for kind, reg in self._handlers.items():
            if reg.every is None:
                continue
            async with self.db.write_lock():
                await Job.raw(
                    "INSERT INTO hotspot_job (kind, key, payload, status, run_at, every_seconds, attempts,"
                    " created_at) VALUES ({}, {}, {}, 'pending', {}, {}, 0, {})"
                    " ON CONFLICT (key) DO UPDATE SET every_seconds = excluded.every_seconds,"
                    " status = CASE WHEN hotspot_job.status IN ('done', 'failed') THEN 'pending'"
                    " ELSE hotspot_job.status END",
                    kind,
                    f"every:{kind}",
                    "{}",
                    now,
                    reg.every,
                    now,
                ).run()

    # --- enqueue ------------------------------------------------------------------------

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        delay: float = 0.0,
        max_attempts: int | None = None,
        urgent: bool = False,
    ) -> int | None:
        """Persist a job; return its id, or None when a job with the same `key` already exists.

        max_attempts None means retry until it succeeds (with backoff up to five minutes).
        `urgent` runs it in this process as soon as the enqueuing transaction commits, without
        a trip through the worker loop (a paid customer waits on it). It is stored already
        claimed by this worker, so a crash before it finishes leaves a lease that runs out and
        the next claim retries it, like any other job.
        """
        reg = self._handlers.get(kind)
        if max_attempts is None and reg is not None:
            max_attempts = reg.max_attempts
        now = self.clock()
        if urgent and delay <= 0 and self._task is not None and reg is not None and self._has_slot():
            async with self.db.write_lock():
                claimed: list[dict[str, Any]] = await Job.raw(
                    "INSERT INTO hotspot_job (kind, key, payload, status, run_at, attempts, max_attempts,"
                    " created_at, locked_by, locked_until)"
                    " VALUES ({}, {}, {}, 'running', {}, 1, {}, {}, {}, {})"
                    " ON CONFLICT (key) DO NOTHING"
                    " RETURNING id, kind, key, payload, attempts, max_attempts, every_seconds",
                    kind,
                    key,
                    json.dumps(dict(payload or {})),
                    now,
                    max_attempts,
                    now,
                    self.worker_id,
                    now + self.lease_seconds,
                ).run()
            if claimed:
                self.db.after_commit(lambda: self._spawn(claimed[0], urgent=True))
            return int(claimed[0]["id"]) if claimed else None
        async with self.db.write_lock():
            rows = await Job.raw(
                "INSERT INTO hotspot_job (kind, key, payload, status, run_at, attempts, max_attempts,"
                " created_at) VALUES ({}, {}, {}, 'pending', {}, 0, {}, {})"
                " ON CONFLICT (key) DO NOTHING RETURNING id",
                kind,
                key,
                json.dumps(dict(payload or {})),
                now + delay,
                max_attempts,
                now,
            ).run()
        self.db.after_commit(self._wake.set)
        return int(rows[0]["id"]) if rows else None

    # --- running ------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[dict[str, Any]]:
        kinds = list(self._handlers)
        if not kinds:
            return []
        now = self.clock()
        marks = ", ".join("{}" for _ in kinds)
        lock = "" if self.db.is_sqlite else " FOR UPDATE SKIP LOCKED"
        # Only placeholders and fixed SQL are interpolated; every value is a bound parameter.
        sql = (
            "UPDATE hotspot_job SET status = 'running', attempts = attempts + 1, locked_by = {},"  # noqa: S608
            " locked_until = {} WHERE id IN (SELECT id FROM hotspot_job"
            f" WHERE kind IN ({marks}) AND ((status = 'pending' AND run_at <= {{}})"
            " OR (status = 'running' AND locked_until < {}))"
            f" ORDER BY run_at LIMIT {{}}{lock})"
            " RETURNING id, kind, key, payload, attempts, max_attempts, every_seconds"
        )
        async with self.db.write_lock():
            rows: list[dict[str, Any]] = await Job.raw(
                sql, self.worker_id, now + self.lease_seconds, *kinds, now, now, limit
            ).run()
        return rows

    async def run_due(self, limit: int | None = None) -> int:
        """Claim up to `limit` due jobs and run them concurrently; return how many ran."""
        rows = await self._claim(limit or self.concurrency)
        await asyncio.gather(*(self._run_one(row) for row in rows))
        return len(rows)

    async def _run_one(self, row: Mapping[str, Any]) -> None:
        payload = row["payload"]
        context = JobContext(
            id=int(row["id"]),
            kind=str(row["kind"]),
            payload=json.loads(payload) if isinstance(payload, str) else dict(payload or {}),
            attempt=int(row["attempts"]),
            key=row["key"],
        )
        handler = self._handlers[context.kind].handler
        try:
            async with asyncio.timeout(self.lease_seconds * 0.9):
                await handler(context)
        except Exception as exc:
            if isinstance(exc, JobFailed | TimeoutError):
                log.warning(
                    "job %s #%s attempt %s failed: %s", context.kind, context.id, context.attempt, exc
                )
            else:
                log.exception("job %s #%s attempt %s crashed", context.kind, context.id, context.attempt)
            reason = str(exc) or type(exc).__name__
            await self._failed(row, reason[:2000])
            return
        await self._succeeded(row)

    async def _succeeded(self, row: Mapping[str, Any]) -> None:
        now = self.clock()
        async with self.db.write_lock():
            if row["every_seconds"] is not None:
                await Job.raw(
                    "UPDATE hotspot_job SET status = 'pending', run_at = {}, attempts = 0, locked_by = NULL,"
                    " locked_until = NULL, last_error = NULL, finished_at = {}"
                    " WHERE id = {} AND locked_by = {}",
                    now + float(row["every_seconds"]),
                    now,
                    row["id"],
                    self.worker_id,
                ).run()
            else:
                await Job.raw(
                    "UPDATE hotspot_job SET status = 'done', locked_by = NULL, locked_until = NULL,"
                    " finished_at = {} WHERE id = {} AND locked_by = {}",
                    now,
                    row["id"],
                    self.worker_id,
                ).run()

    async def _failed(self, row: Mapping[str, Any], reason: str) -> None:
        now = self.clock()
        attempts = int(row["attempts"])
        every = row["every_seconds"]
        max_attempts = row["max_attempts"]
        if every is not None:
            status, run_at = "pending", now + min(float(every), backoff(attempts))
        elif max_attempts is not None and attempts >= int(max_attempts):
            status, run_at = "failed", now
            log.error("job %s #%s gave up after %s attempts: %s", row["kind"], row["id"], attempts, reason)
        else:
            status, run_at = "pending", now + backoff(attempts)
        async with self.db.write_lock():
            await Job.raw(
                "UPDATE hotspot_job SET status = {}, run_at = {}, last_error = {}, locked_by = NULL,"
                " locked_until = NULL, finished_at = {} WHERE id = {} AND locked_by = {}",
                status,
                run_at,
                reason,
                now if status == "failed" else None,
                row["id"],
                self.worker_id,
            ).run()

    # --- the worker loop ----------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker loop in the background (one per process)."""
        await self.ensure_schedules()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="hotspot-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running.clear()

    async def _loop(self) -> None:
        """Keep up to `concurrency` jobs running; a slow job (a hung router) never holds up the
        others, because a free slot is refilled as soon as any job ends."""
        while True:
            self._wake.clear()  # before claiming: an enqueue during the claim must not be lost
            free = self.concurrency - len(self._running)
            claimed = 0
            if free > 0:
                try:
                    rows = await self._claim(free)
                except Exception:
                    log.exception("job worker could not claim jobs; retrying in %.0f s", self.poll_seconds)
                    rows = []
                claimed = len(rows)
                for row in rows:
                    self._spawn(row)
            if claimed and claimed == free:
                continue  # there may be more due: fill the slots again once one frees
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait(
                    {waker, *self._running}, timeout=self.poll_seconds, return_when="FIRST_COMPLETED"
                )
            finally:
                waker.cancel()

    def _has_slot(self) -> bool:
        return len(self._running) < self.concurrency

    def _spawn(self, row: Mapping[str, Any], *, urgent: bool = False) -> None:
        if self._task is None:  # stopped meanwhile: the lease runs out and a worker retries it
            return
        task = asyncio.create_task(self._run_one(row), name=f"job-{row['kind']}-{row['id']}")
        self._running.add(task)
        if urgent:
            self._urgent.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._urgent.discard(task)
        self._wake.set()  # a slot is free

    async def urgent_settled(self, at_most: float) -> None:
        """Wait (at most `at_most` s) for the urgent jobs running in this process to end.

        Why: follow-up work after a commit (publishing an order's status) would otherwise compete
        with the grant a paid customer is waiting for; it can wait a few milliseconds."""
        if self._urgent:
            await asyncio.wait(set(self._urgent), timeout=at_most)

    async def counts(self) -> dict[str, int]:
        """Jobs by status, for /healthz and the admin."""
        rows = await Job.raw("SELECT status, COUNT(*) AS n FROM hotspot_job GROUP BY status").run()
        return {str(r["status"]): int(r["n"]) for r in rows}


def backoff(attempts: int) -> float:
    """Seconds before retry N: 5, 10, 20, ... capped at five minutes, with +-20% jitter."""
    base = min(5.0 * 2 ** max(attempts - 1, 0), MAX_BACKOFF)
    return float(base * random.uniform(0.8, 1.2))
