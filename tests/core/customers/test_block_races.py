"""Blocks and bindings under double clicks and failing routers, on both backends: one block in
force per subject whatever the interleaving, unblock lifts every open row, bindings stay unique
and within the limit, and the audit entry commits with the change before any router is asked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from customer_support import NEW, OLD, PHONE, THIRD, Box

from hotspot.accounts.audit import Actor
from hotspot.accounts.tables import AuditEntry
from hotspot.customers import BlockError
from hotspot.customers.blocks import MAX_BINDINGS, BindingView, BlockView
from hotspot.customers.tables import Binding, Block


async def open_blocks(value: str) -> list[dict[str, Any]]:
    return list(await Block.select().where((Block.value == value) & Block.lifted_at.is_null()).run())


async def slow_checks(blocks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between "is it blocked?" and the insert, as a busy box would."""
    current, bindings = blocks.current, blocks.bindings

    async def slow_current(kind: str, value: str) -> Any:
        found = await current(kind, value)
        await asyncio.sleep(0.02)
        return found

    async def slow_bindings(phone: str) -> Any:
        found = await bindings(phone)
        await asyncio.sleep(0.02)
        return found

    monkeypatch.setattr(blocks, "current", slow_current)
    monkeypatch.setattr(blocks, "bindings", slow_bindings)


async def test_a_double_clicked_block_makes_one_block(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = box.hotspot.customers.blocks
    await slow_checks(blocks, monkeypatch)
    results = await asyncio.gather(
        *(blocks.block("phone", PHONE, reason="fraud", by="owner") for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BlockError)]
    assert len(refused) == 5 and all(r.status_code == 409 for r in refused)
    assert len(await open_blocks(PHONE)) == 1

    await blocks.unblock("phone", PHONE, by="owner")
    assert await open_blocks(PHONE) == [] and await blocks.current("phone", PHONE) is None
    await box.hotspot.checkout.admit(PHONE, None)


async def test_unblock_after_any_interleaving_leaves_none(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = box.hotspot.customers.blocks
    await slow_checks(blocks, monkeypatch)
    calls = []
    for _ in range(3):
        calls += [
            blocks.block("mac", OLD, reason="shared", by="owner"),
            blocks.unblock("mac", OLD, by="owner"),
        ]
    await asyncio.gather(*calls, return_exceptions=True)
    if await blocks.current("mac", OLD) is not None:
        await blocks.unblock("mac", OLD, by="owner")
    assert await open_blocks(OLD) == [] and await blocks.current("mac", OLD) is None
    with pytest.raises(BlockError) as twice:
        await blocks.unblock("mac", OLD, by="owner")
    assert twice.value.status_code == 409


async def test_the_database_keeps_one_open_block_and_a_new_block_closes_an_expired_one(box: Box) -> None:
    blocks = box.hotspot.customers.blocks
    await blocks.block("mac", OLD, reason="shared", by="owner", expires_at=box.clock() + 60)
    with pytest.raises(Exception, match=r"(?i)unique"):  # a second open row, however it got there
        await Block.insert(
            Block(kind="mac", value=OLD, reason="again", created_by="x", created_at=box.clock())
        ).run()
    box.later(61)  # over, but not swept yet: blocking again is allowed and closes the old row
    await blocks.block("mac", OLD, reason="again", by="owner")
    rows = await Block.select().where(Block.value == OLD).order_by(Block.id).run()
    assert [r["reason"] for r in rows] == ["shared", "again"]
    assert rows[0]["lifted_at"] == pytest.approx(rows[0]["expires_at"]) and rows[1]["lifted_at"] is None


async def test_concurrent_binds_respect_the_limit_and_never_duplicate(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = box.hotspot.customers.blocks
    await slow_checks(blocks, monkeypatch)
    same = await asyncio.gather(
        *(blocks.bind(PHONE, NEW, by="owner") for _ in range(3)), return_exceptions=True
    )
    assert sum(isinstance(r, BindingView) for r in same) == 1
    macs = [f"AA:BB:CC:00:01:{i:02X}" for i in range(MAX_BINDINGS + 2)]
    many = await asyncio.gather(
        *(blocks.bind(PHONE, mac, by="owner") for mac in macs), return_exceptions=True
    )
    assert sum(isinstance(r, BindingView) for r in many) == MAX_BINDINGS - 1
    rows = await Binding.select(Binding.mac).where(Binding.phone == PHONE).run()
    assert len(rows) == MAX_BINDINGS == len({r["mac"] for r in rows})
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Binding.insert(Binding(phone=PHONE, mac=NEW, created_by="x", created_at=box.clock())).run()


async def audited(box: Box, action: str) -> list[dict[str, Any]]:
    return list(await AuditEntry.select().where(AuditEntry.action == action).run())


async def test_the_audit_entry_commits_with_the_block_and_survives_a_dead_router(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    hotspot = box.hotspot
    blocks = hotspot.customers.blocks
    grant_id = await box.paid(mac=OLD)

    async def audit(view: BlockView) -> None:
        assert await open_blocks(view.value)  # the row is there, in the same transaction
        await hotspot.accounts.audit.record(Actor("owner"), "customer.block", ("device", view.value))

    async def times_out(*args: Any, **kwargs: Any) -> int:
        raise TimeoutError("the router did not answer")

    def unreachable(name: str) -> Any:
        raise OSError("no route to host")

    await hotspot.usage.run()  # the device's session, as usage sync records it
    assert OLD in box.online()
    monkeypatch.setattr(hotspot.grants, "disconnect", times_out)
    monkeypatch.setattr(hotspot.grants.pool, "get", unreachable)
    outcome = await blocks.block("mac", OLD, reason="shared", by="owner", audit=audit)
    assert outcome.suspended == 1 and outcome.disconnected == 0
    assert await blocks.current("mac", OLD) is not None and len(await audited(box, "customer.block")) == 1
    assert grant_id in await blocks._grants_of("mac", OLD, ["suspended"]) and OLD in box.online()

    monkeypatch.undo()  # the router answers again: the sweep drops the device
    await blocks.enforce()
    assert OLD not in box.online()

    async def broken(view: BlockView) -> None:
        raise RuntimeError("the audit log is unwritable")

    with pytest.raises(RuntimeError):  # no audit, no block
        await blocks.block("mac", THIRD, reason="shared", by="owner", audit=broken)
    assert await open_blocks(THIRD) == []
    with pytest.raises(RuntimeError):
        await blocks.unblock("mac", OLD, by="owner", audit=broken)
    assert await blocks.current("mac", OLD) is not None
