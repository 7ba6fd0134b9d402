"""Sessions about to run out, announced once each on the admin channel (the dashboard's toasts,
hotspot.admin.notices), so the operator can offer more time before a customer is cut off.

A job every `EVERY` seconds looks at the grants whose end falls in the next slice of time
`LEAD` seconds ahead; consecutive runs take consecutive slices, so each grant is announced once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hotspot.access.tables import Grant, GrantState
from hotspot.jobs import JobContext

__all__ = ["EVERY", "LEAD", "ExpiryWatch"]

LEAD = 10 * 60.0  # warn this long before the end
EVERY = 60.0  # how often the job looks


class ExpiryWatch:
    def __init__(
        self,
        publish: Callable[[dict[str, Any]], None],
        *,
        lead: float = LEAD,
        every: float = EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.lead, self.every, self.clock = lead, every, clock
        self._checked_until: float | None = None  # the end of the last slice looked at

    async def job(self, ctx: JobContext) -> None:
        await self.announce()

    async def announce(self) -> int:
        """Announce the grants ending in the next slice; returns how many."""
        now = self.clock()
        start = now + self.lead - self.every
        if self._checked_until is not None:  # no gap, no overlap (a late run takes a wider slice)
            start = max(self._checked_until, now + self.lead - 2 * self.every)
        end = now + self.lead
        self._checked_until = end
        rows = await (
            Grant.select(Grant.id, Grant.mac, Grant.source, Grant.source_ref, Grant.profile, Grant.expires_at)
            .where(
                (Grant.state == GrantState.ACTIVE)
                & (Grant.expires_at > start)
                & (Grant.expires_at <= end)
                & (Grant.expires_at > now)
            )
            .limit(200)
            .run()
        )
        for row in rows:
            self.publish(
                {
                    "on": "session_expiring",
                    "event": {
                        "grant_id": row["id"],
                        "mac": row["mac"],
                        "who": row["mac"] or row["profile"],
                        "package": row["profile"],
                        "seconds_left": max(int(row["expires_at"] - now), 0),
                    },
                }
            )
        return len(rows)
