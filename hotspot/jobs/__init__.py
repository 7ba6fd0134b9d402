"""Durable scheduled and retried work (expiry, usage sync, grant retries, reports)."""

from hotspot.jobs.queue import JobContext, JobFailed, Jobs, backoff

__all__ = ["JobContext", "JobFailed", "Jobs", "backoff"]
