"""The durable jobs table: every scheduled or retried piece of work is a row here."""

from __future__ import annotations

from piccolo.columns import JSON, DoublePrecision, Integer, Text, Varchar
from piccolo.table import Table

__all__ = ["Job"]


class Job(Table, tablename="hotspot_job"):
    """One unit of background work. Times are UNIX seconds so both backends compare them alike.

    status: pending -> running -> done | failed (gave up) ; a running row whose lease ran out is
    claimed again, so a crash mid-job re-runs it (handlers are idempotent).
    """

    kind = Varchar(length=100, index=True)
    key = Varchar(length=200, null=True, default=None, unique=True)
    payload = JSON(default="{}")
    status = Varchar(length=16, default="pending", index=True)
    run_at = DoublePrecision(index=True)
    every_seconds = DoublePrecision(null=True, default=None)
    attempts = Integer(default=0)
    max_attempts = Integer(null=True, default=None)
    locked_by = Varchar(length=100, null=True, default=None)
    locked_until = DoublePrecision(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = DoublePrecision()
    finished_at = DoublePrecision(null=True, default=None)
