"""Security alerts to the owner through the notifier plugins, as a durable job.

A lockout or an owner's sign-in from a new address must reach the owner even when the mail
server is slow or down for a while: the alert is a job (hotspot.jobs), sent by the worker to
every notifier and retried with backoff until one accepts it. Sign-in never waits on SMTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hotspot.contracts import Notification, Notifier
from hotspot.jobs import JobContext, JobFailed, Jobs

__all__ = ["ALERT_JOB", "AlertJobs"]

log = logging.getLogger("hotspot.accounts")
ALERT_JOB = "accounts.alert"
_SEVERITIES = ("info", "warning", "critical")


class AlertJobs:
    """Queue alerts and send them; `notifiers` is the registry's live mapping."""

    def __init__(self, jobs: Jobs, notifiers: Mapping[str, Notifier], *, max_attempts: int = 8) -> None:
        self.jobs = jobs
        self.notifiers = notifiers
        jobs.register(ALERT_JOB, self.send, max_attempts=max_attempts)

    async def queue(self, notification: Notification) -> None:
        await self.jobs.enqueue(
            ALERT_JOB,
            {
                "subject": notification.subject,
                "body": notification.body,
                "kind": notification.kind,
                "severity": notification.severity,
            },
        )

    async def send(self, ctx: JobContext) -> None:
        """Deliver to every notifier; retry while none accepted it."""
        if not self.notifiers:
            log.info("security alert not sent (no notifier plugin enabled): %s", ctx.payload.get("subject"))
            return
        severity = str(ctx.payload.get("severity", "warning"))
        notification = Notification(
            subject=str(ctx.payload.get("subject", "Security alert")),
            body=str(ctx.payload.get("body", "")),
            kind=str(ctx.payload.get("kind", "security")),
            severity=severity if severity in _SEVERITIES else "warning",  # type: ignore[arg-type]
        )
        failures: list[str] = []
        for notifier_id, notifier in self.notifiers.items():
            try:
                await notifier.send(notification)
            except Exception as exc:
                log.warning("notifier %r could not send a security alert: %s", notifier_id, exc)
                failures.append(f"{notifier_id}: {exc}")
        if len(failures) == len(self.notifiers):
            raise JobFailed("no notifier accepted the alert: " + "; ".join(failures))
