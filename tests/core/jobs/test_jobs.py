"""Durable jobs on both backends: nothing lost on a crash, nothing run twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes import Clock

from hotspot.config import Settings
from hotspot.db import Database, all_tables, migrate
from hotspot.jobs import JobContext, JobFailed, Jobs, backoff
from hotspot.jobs.tables import Job


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await database.open(all_tables())
    await migrate(database)
    yield database
    await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_jobs(db: Database, clock: Clock, **kw: Any) -> Jobs:
    return Jobs(db, clock=clock, **kw)


async def rows() -> list[dict[str, Any]]:
    return await Job.select().order_by(Job.id).run()  # type: ignore[no-any-return]


async def test_enqueue_runs_once_and_keys_deduplicate(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)
    seen: list[dict[str, Any]] = []

    async def handle(ctx: JobContext) -> None:
        seen.append(dict(ctx.payload))

    jobs.register("grant.apply", handle)
    first = await jobs.enqueue("grant.apply", {"grant": 7}, key="grant:7")
    again = await jobs.enqueue("grant.apply", {"grant": 7}, key="grant:7")
    assert isinstance(first, int) and again is None
    assert await jobs.run_due() == 1
    assert await jobs.run_due() == 0
    assert seen == [{"grant": 7}]
    [row] = await rows()
    assert row["status"] == "done" and row["attempts"] == 1 and row["finished_at"] == clock.now


async def test_failure_retries_with_backoff_until_it_lands(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)
    attempts: list[int] = []

    async def flaky(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise JobFailed("router unreachable")

    jobs.register("grant.apply", flaky)
    await jobs.enqueue("grant.apply", {})
    assert await jobs.run_due() == 1
    [row] = await rows()
    assert row["status"] == "pending" and row["last_error"] == "router unreachable"
    assert 4.0 <= row["run_at"] - clock.now <= 6.0  # first retry after ~5 s
    assert await jobs.run_due() == 0  # not due yet
    clock.now += 6
    await jobs.run_due()
    clock.now += 12
    await jobs.run_due()
    assert attempts == [1, 2, 3]
    assert (await rows())[0]["status"] == "done"


async def test_max_attempts_gives_up_and_keeps_the_reason(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)

    async def broken(ctx: JobContext) -> None:
        raise ValueError("bad payload")

    jobs.register("report.send", broken)
    await jobs.enqueue("report.send", {}, max_attempts=2)
    await jobs.run_due()
    clock.now += 1000
    await jobs.run_due()
    [row] = await rows()
    assert row["status"] == "failed" and row["attempts"] == 2 and row["last_error"] == "bad payload"
    clock.now += 1000
    assert await jobs.run_due() == 0


async def test_a_crashed_worker_job_is_run_again_after_its_lease(db: Database, clock: Clock) -> None:
    crashed = make_jobs(db, clock, lease_seconds=30, worker_id="box:1")
    crashed.register("grant.apply", _noop)
    await crashed.enqueue("grant.apply", {"grant": 1})
    claimed = await crashed._claim(10)  # claimed, then the process "dies" before finishing
    assert len(claimed) == 1

    survivor = make_jobs(db, clock, lease_seconds=30, worker_id="box:2")
    ran: list[int] = []

    async def handle(ctx: JobContext) -> None:
        ran.append(ctx.attempt)

    survivor.register("grant.apply", handle)
    assert await survivor.run_due() == 0  # lease still valid
    clock.now += 31
    assert await survivor.run_due() == 1
    assert ran == [2]
    assert (await rows())[0]["status"] == "done"


async def test_recurring_job_is_one_row_rescheduled(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)
    ticks: list[float] = []

    async def tick(ctx: JobContext) -> None:
        ticks.append(clock.now)

    jobs.register("usage.sync", tick, every=60)
    await jobs.ensure_schedules()
    await jobs.ensure_schedules()  # idempotent across restarts and processes
    assert await jobs.run_due() == 1
    clock.now += 30
    assert await jobs.run_due() == 0
    clock.now += 31
    assert await jobs.run_due() == 1
    [row] = await rows()
    assert row["key"] == "every:usage.sync" and row["status"] == "pending" and row["attempts"] == 0
    assert len(ticks) == 2


async def test_recurring_interval_change_applies_on_restart(db: Database, clock: Clock) -> None:
    first = make_jobs(db, clock)
    first.register("usage.sync", _noop, every=60)
    await first.ensure_schedules()
    second = make_jobs(db, clock)
    second.register("usage.sync", _noop, every=15)
    await second.ensure_schedules()
    [row] = await rows()
    assert row["every_seconds"] == 15


async def test_a_failing_recurring_job_keeps_its_schedule(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)

    async def boom(ctx: JobContext) -> None:
        raise JobFailed("router down")

    jobs.register("usage.sync", boom, every=30, max_attempts=1)
    await jobs.ensure_schedules()
    await jobs.run_due()
    [row] = await rows()
    assert row["status"] == "pending" and row["run_at"] - clock.now <= 30


async def test_kinds_without_a_handler_here_are_left_for_others(db: Database, clock: Clock) -> None:
    producer = make_jobs(db, clock)
    producer.register("mine", _noop)
    await producer.enqueue("mine", {})
    other = make_jobs(db, clock)
    other.register("theirs", _noop)
    await other.enqueue("theirs", {})
    assert await other.run_due() == 1
    statuses = {r["kind"]: r["status"] for r in await rows()}
    assert statuses == {"mine": "pending", "theirs": "done"}


async def test_two_workers_never_run_the_same_job(settings: Settings, clock: Clock) -> None:
    """Two workers, each with its own write lock as two processes would have, claiming at once.

    On PostgreSQL the claims run concurrently on separate pooled connections, so SKIP LOCKED
    decides; on SQLite the file lock (busy timeout) does."""
    dbs = [Database(settings.database_url) for _ in range(2)]
    for d in dbs:
        await d.open(all_tables())
    await migrate(dbs[0])
    runs: list[int] = []

    async def handle(ctx: JobContext) -> None:
        runs.append(ctx.id)
        await asyncio.sleep(0.01)

    workers = []
    for i, d in enumerate(dbs):
        w = make_jobs(d, clock, worker_id=f"w{i}", concurrency=5)
        w.register("grant.apply", handle)
        workers.append(w)
    for n in range(40):
        await workers[0].enqueue("grant.apply", {"n": n})

    async def drain(w: Jobs) -> None:
        while await w.run_due():
            pass

    await asyncio.gather(drain(workers[0]), drain(workers[1]))
    assert sorted(runs) == sorted(set(runs)) and len(runs) == 40
    for d in dbs:
        await d.close()


async def test_worker_loop_picks_up_new_jobs_promptly(db: Database) -> None:
    jobs = Jobs(db, poll_seconds=30)
    done = asyncio.Event()

    async def handle(ctx: JobContext) -> None:
        done.set()

    jobs.register("notify.send", handle)
    await jobs.start()
    try:
        await jobs.enqueue("notify.send", {})
        await asyncio.wait_for(done.wait(), timeout=5)  # woken by enqueue, not the 30 s poll
    finally:
        await jobs.stop()


async def test_counts_by_status(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)
    jobs.register("a", _noop)
    await jobs.enqueue("a", {})
    await jobs.enqueue("a", {})
    await jobs.run_due(limit=1)
    assert await jobs.counts() == {"done": 1, "pending": 1}


def test_register_twice_or_with_a_bad_interval_is_refused(clock: Clock) -> None:
    jobs = Jobs(Database("sqlite:////tmp/unused.db"), clock=clock)
    jobs.register("a", _noop)
    with pytest.raises(ValueError, match="already registered"):
        jobs.register("a", _noop)
    with pytest.raises(ValueError, match="positive"):
        jobs.register("b", _noop, every=0)


def test_backoff_grows_and_is_capped() -> None:
    assert 4 <= backoff(1) <= 6
    assert 8 <= backoff(2) <= 12
    assert backoff(50) <= 360


async def _noop(ctx: JobContext) -> None:
    return None


async def test_a_hung_job_does_not_hold_up_the_others(db: Database) -> None:
    """A router that never answers must not delay every other customer's grant."""
    jobs = Jobs(db, poll_seconds=30, concurrency=3)
    release = asyncio.Event()
    done: list[int] = []

    async def hang(ctx: JobContext) -> None:
        await release.wait()

    async def quick(ctx: JobContext) -> None:
        done.append(int(ctx.payload["n"]))

    jobs.register("sync.stuck_router", hang)
    jobs.register("grant.apply", quick)
    await jobs.enqueue("sync.stuck_router", {})
    await jobs.start()
    try:
        for n in range(5):
            await jobs.enqueue("grant.apply", {"n": n})
        async with asyncio.timeout(5):
            while len(done) < 5:
                await asyncio.sleep(0.01)
        assert sorted(done) == [0, 1, 2, 3, 4]
    finally:
        release.set()
        await jobs.stop()


async def test_a_job_enqueued_in_a_transaction_waits_for_its_commit(db: Database) -> None:
    """Woken inside the transaction, a worker would look before the row is visible and then
    sleep a whole poll interval; it must be woken after the commit instead."""
    jobs = Jobs(db, poll_seconds=300)
    done = asyncio.Event()

    async def handle(ctx: JobContext) -> None:
        done.set()

    jobs.register("notify.send", handle)
    await jobs.start()
    try:
        async with db.transaction():
            await jobs.enqueue("notify.send", {})
            await asyncio.sleep(0.05)  # the worker gets every chance to look too early
            assert not done.is_set()
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await jobs.stop()


async def test_urgent_job_runs_after_commit_without_the_worker_loop(db: Database) -> None:
    jobs = Jobs(db, poll_seconds=300, worker_id="box:1")
    ran: list[int] = []
    done = asyncio.Event()

    async def handle(ctx: JobContext) -> None:
        ran.append(ctx.attempt)
        done.set()

    jobs.register("grant.apply", handle)
    await jobs.start()
    try:
        with pytest.raises(RuntimeError):
            await _enqueue_then_fail(db, jobs)
        assert await rows() == []  # rolled back: neither stored nor run
        async with db.transaction():
            await jobs.enqueue("grant.apply", {"grant": 1}, key="apply:1", urgent=True)
            [row] = await rows()
            assert row["status"] == "running" and row["locked_by"] == "box:1"
        await asyncio.wait_for(done.wait(), timeout=10)
        for _ in range(100):
            if (await rows())[0]["status"] == "done":
                break
            await asyncio.sleep(0.02)
        assert ran == [1]
        assert (await rows())[0]["status"] == "done"
    finally:
        await jobs.stop()


async def _enqueue_then_fail(db: Database, jobs: Jobs) -> None:
    async with db.transaction():
        await jobs.enqueue("grant.apply", {"grant": 0}, key="apply:0", urgent=True)
        raise RuntimeError("boom")


async def test_urgent_job_lost_in_a_crash_is_retried_after_its_lease(db: Database, clock: Clock) -> None:
    crashed = make_jobs(db, clock, lease_seconds=30, worker_id="box:1")
    crashed.register("grant.apply", _noop)
    crashed._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]  # "running"
    crashed._spawn = lambda row, urgent=False: None  # type: ignore[method-assign]  # dies before it starts the job
    await crashed.enqueue("grant.apply", {"grant": 1}, urgent=True)
    crashed._task = None
    [row] = await rows()
    assert row["status"] == "running"

    survivor = make_jobs(db, clock, lease_seconds=30, worker_id="box:2")
    ran: list[int] = []

    async def handle(ctx: JobContext) -> None:
        ran.append(ctx.attempt)

    survivor.register("grant.apply", handle)
    assert await survivor.run_due() == 0
    clock.now += 31
    assert await survivor.run_due() == 1
    assert ran == [2]


async def test_urgent_without_a_worker_here_is_an_ordinary_job(db: Database, clock: Clock) -> None:
    jobs = make_jobs(db, clock)
    jobs.register("grant.apply", _noop)
    await jobs.enqueue("grant.apply", {"grant": 1}, urgent=True)
    [row] = await rows()
    assert row["status"] == "pending"
    assert await jobs.run_due() == 1
