"""Revoking a whole batch and settling states on page views, on both backends: the unused codes
go in one conditional statement (a code redeemed a moment before keeps its customer), the audit
entry is written with that statement, and a page view settles only its own batches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from voucher_support import PHONE_A, PHONE_B, PHONE_C, Box

from hotspot.accounts.audit import Actor
from hotspot.accounts.tables import AuditEntry
from hotspot.vouchers import VoucherError, VoucherState
from hotspot.vouchers.admin_actions import revoke_batch
from hotspot.vouchers.tables import Voucher, VoucherAttempt


async def states(batch_id: int) -> dict[str, str]:
    rows = await Voucher.select(Voucher.code, Voucher.state).where(Voucher.batch_id == batch_id).run()
    return {r["code"]: r["state"] for r in rows}


async def test_a_big_batch_is_revoked_in_one_statement_and_audited_first(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await box.batch(count=300)
    used = made.vouchers[0].code
    await box.redeem(used)
    one_by_one: list[int] = []
    revoke_row = box.vouchers._revoke_row

    async def counted(row: dict[str, Any], reason: str) -> dict[str, Any]:
        one_by_one.append(int(row["id"]))
        return await revoke_row(row, reason)

    monkeypatch.setattr(box.vouchers, "_revoke_row", counted)
    principal: Any = SimpleNamespace(actor=Actor("owner"))
    count = await revoke_batch(box.hotspot, made.batch.id, principal, "10.0.0.9", unused_only=True)
    assert count == 299 and one_by_one == []
    after = await states(made.batch.id)
    assert after.pop(used) == VoucherState.ACTIVE and set(after.values()) == {VoucherState.REVOKED}
    [entry] = await AuditEntry.select().where(AuditEntry.action == "voucher_batch.revoke").run()
    assert entry["target_id"] == str(made.batch.id) and entry["ip"] == "10.0.0.9"
    assert '"revoked": 299' in entry["after"] and '"unused_only": true' in entry["after"]

    seen: list[int] = []

    async def audit(count: int) -> None:  # runs inside the UPDATE's transaction, before the rest
        seen.append(count)
        assert (await states(made.batch.id))[used] == VoucherState.ACTIVE

    assert await box.vouchers.revoke_batch(made.batch.id, audit=audit) == 1
    assert seen == [1] and one_by_one == [(await box.vouchers.get(used)).id]
    assert set((await states(made.batch.id)).values()) == {VoucherState.REVOKED}
    assert (await box.vouchers.get(used)).state == VoucherState.REVOKED


async def test_a_code_redeemed_during_an_unused_only_revoke_keeps_its_customer(box: Box) -> None:
    """Whichever wins, a customer who got online keeps it and a refused one got nothing."""
    made = await box.batch(count=6)
    codes = [v.code for v in made.vouchers]
    racing = {codes[1]: PHONE_A, codes[3]: PHONE_B, codes[5]: PHONE_C}

    async def redeem_later(code: str, mac: str, delay: float) -> Any:
        await asyncio.sleep(delay)
        return await box.redeem(code, mac)

    results = await asyncio.gather(
        *(redeem_later(code, mac, 0.03 * i) for i, (code, mac) in enumerate(racing.items())),
        box.vouchers.revoke_batch(made.batch.id, unused_only=True),
        return_exceptions=True,
    )
    *redeems, count = results
    assert isinstance(count, int)
    after = await states(made.batch.id)
    for (code, _), outcome in zip(racing.items(), redeems, strict=True):
        if isinstance(outcome, VoucherError):  # the revoke got there first: refused, not half-used
            assert after[code] == VoucherState.REVOKED
        else:
            assert not isinstance(outcome, BaseException) and after[code] == VoucherState.ACTIVE
    assert count == sum(state == VoucherState.REVOKED for state in after.values())
    assert set(after.values()) <= {VoucherState.REVOKED, VoucherState.ACTIVE}


async def test_a_page_view_settles_only_its_batch_and_writes_only_when_due(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = await box.batch(count=2, expires_at=box.clock.now + 60)
    other = await box.batch(count=2, expires_at=box.clock.now + 60)
    box.later(120)
    counts = await box.vouchers.state_counts([shown.batch.id])
    assert counts[shown.batch.id][VoucherState.EXPIRED] == 2
    assert set((await states(other.batch.id)).values()) == {VoucherState.UNUSED}  # the job's work
    listed = await box.vouchers.batch_vouchers(other.batch.id)
    assert {v.state for v in listed} == {VoucherState.EXPIRED}

    writes = 0
    write_lock = box.hotspot.db.write_lock

    @contextlib.asynccontextmanager
    async def counting() -> AsyncIterator[None]:
        nonlocal writes
        writes += 1
        async with write_lock():
            yield

    monkeypatch.setattr(box.hotspot.db, "write_lock", counting)
    await box.vouchers.state_counts([shown.batch.id, other.batch.id])
    await box.vouchers.batch_vouchers(shown.batch.id)
    assert writes == 0  # nothing was due: a page view reads only
    monkeypatch.undo()

    third = await box.batch(count=1, expires_at=box.clock.now + 60)
    box.later(120)
    await box.vouchers.sweep()  # the job settles everything
    assert set((await states(third.batch.id)).values()) == {VoucherState.EXPIRED}


@pytest.mark.parametrize(
    ("where", "indexes"),
    [
        ("code_tried = 'ABCD2345'", ("code_tried", "code_prefix")),
        ("code_tried LIKE 'ABC%'", ("code_prefix",)),
        ("ip = '10.5.50.11' OR source_ip = '10.5.50.11'", ("ip", "source_ip")),
        ("outcome = 'refused' ORDER BY id DESC", ("outcome_recent",)),
    ],
)
async def test_the_redeem_log_filters_are_indexed(box: Box, where: str, indexes: tuple[str, ...]) -> None:
    sql = f"SELECT id FROM hotspot_voucher_attempt WHERE {where} LIMIT 50"
    async with box.hotspot.db.transaction():
        if box.hotspot.db.is_sqlite:
            plan = await VoucherAttempt.raw(f"EXPLAIN QUERY PLAN {sql}").run()
            text = " ".join(str(row["detail"]) for row in plan)
        else:  # an empty table: make the planner show what it would use on a big one
            await VoucherAttempt.raw("SET LOCAL enable_seqscan = off").run()
            plan = await VoucherAttempt.raw(f"EXPLAIN {sql}").run()
            text = " ".join(str(row["QUERY PLAN"]) for row in plan)
    assert "INDEX" in text.upper() and any(f"hotspot_voucher_attempt_{i} " in f"{text} " for i in indexes), (
        text
    )
