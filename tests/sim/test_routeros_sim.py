"""The RouterOS simulator, driven only through the real librouteros client (plus framing unit tests).

Simulated time uses a fake clock, so every counter below is exact.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import librouteros
import pytest
from fakes import Clock
from librouteros.api import AsyncApi
from librouteros.connections import AsyncSocketTransport
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.login import async_token
from librouteros.protocol import AsyncApiProtocol, encode_sentence
from librouteros.protocol import decode_length as lr_decode_length
from librouteros.protocol import encode_length as lr_encode_length
from librouteros.query import And, Key, Or

from hotspot.sim._routeros_wire import (
    FramingError,
    SentenceDecoder,
    decode_length,
    encode_length,
)
from hotspot.sim._routeros_wire import (
    encode_sentence as sim_encode_sentence,
)
from hotspot.sim.routeros import RouterOSSimulator

USER, PASSWORD = "admin", "secret"
MAC1, MAC2, IP1, IP2 = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02", "10.5.50.23", "10.5.50.24"


@pytest.fixture
async def sim() -> AsyncIterator[RouterOSSimulator]:
    async with RouterOSSimulator(USER, PASSWORD, "cafe-main", clock=Clock(1000.0)) as simulator:
        yield simulator


async def connect(sim: RouterOSSimulator, **kwargs: object) -> AsyncApi:
    options: dict[str, object] = {"port": sim.port, "timeout": 2}
    options.update(kwargs)
    api: AsyncApi = await librouteros.async_connect("127.0.0.1", USER, PASSWORD, **options)
    return api


@pytest.fixture
async def api(sim: RouterOSSimulator) -> AsyncIterator[AsyncApi]:
    client = await connect(sim)
    yield client
    await client.close()


async def rows(api: AsyncApi, cmd: str, *words: str) -> list[dict[str, object]]:
    return [row async for row in api.rawCmd(cmd, *words)]


async def call(api: AsyncApi, cmd: str, **kwargs: object) -> list[dict[str, object]]:
    return [row async for row in api(cmd, **kwargs)]


async def trap_of(coro: object) -> TrapError:
    with pytest.raises(TrapError) as info:
        await coro  # type: ignore[misc]
    return info.value


async def plan(api: AsyncApi, name: str = "plan-5M", **extra: object) -> str:
    fields: dict[str, object] = {"rate-limit": "2M/5M", "shared-users": 1, "session-timeout": "1h"}
    fields.update(extra)
    return str(await api.path("ip", "hotspot", "user", "profile").add(name=name, **fields))


async def voucher(api: AsyncApi, name: str = "VCH8K2", profile: str = "plan-5M", /, **extra: object) -> str:
    fields: dict[str, object] = {"comment": "voucher"}
    fields.update(extra)
    return str(
        await api.path("ip", "hotspot", "user").add(name=name, password=name, profile=profile, **fields)
    )


async def login(api: AsyncApi, user: str = "VCH8K2", mac: str = MAC1, ip: str = IP1) -> None:
    await call(api, "/ip/hotspot/active/login", user=user, password=user, **{"mac-address": mac, "ip": ip})


# --- framing (librouteros' own vectors) --------------------------------------------------------

LENGTH_VECTORS = [
    (0, b"\x00"),
    (127, b"\x7f"),
    (130, b"\x80\x82"),
    (2097140, b"\xdf\xff\xf4"),
    (268435440, b"\xef\xff\xff\xf0"),
    (256, b"\x81\x00"),
]


@pytest.mark.parametrize(("length", "encoded"), LENGTH_VECTORS)
def test_length_vectors_match_librouteros(length: int, encoded: bytes) -> None:
    assert encode_length(length) == encoded == lr_encode_length(length)
    assert decode_length(encoded) == length == lr_decode_length(encoded)


def test_length_boundaries_round_trip_and_five_byte_form() -> None:
    for length in (0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000, 0xFFFFFFF):
        assert encode_length(length) == lr_encode_length(length)
        assert decode_length(encode_length(length)) == length
    assert encode_length(0x10000000) == b"\xf0\x10\x00\x00\x00"
    assert decode_length(b"\xf0\x10\x00\x00\x00") == 0x10000000


def test_decoder_handles_split_reads_many_sentences_and_embedded_nul() -> None:
    long_word = "=comment=" + "x" * 247  # 256 bytes: its length prefix is 81 00
    second = encode_sentence("/ip/hotspot/user/set", "=.id=*1", long_word, encoding="ascii")
    assert b"\x81\x00=comment=" in second
    assert sim_encode_sentence(["/ip/hotspot/user/set", "=.id=*1", long_word]) == second
    stream = encode_sentence("/system/identity/print", encoding="ascii") + b"\x00" + second  # + empty one
    byte_by_byte = SentenceDecoder()
    got: list[list[str]] = []
    for i in range(len(stream)):
        got += byte_by_byte.feed(stream[i : i + 1])
    expected = [["/system/identity/print"], ["/ip/hotspot/user/set", "=.id=*1", long_word]]
    assert got == expected
    assert SentenceDecoder().feed(stream) == expected
    with pytest.raises(FramingError):
        SentenceDecoder().feed(b"\xf8")


# --- login -------------------------------------------------------------------------------------


async def test_login_ok_and_bad_password(sim: RouterOSSimulator) -> None:
    api = await connect(sim)
    assert await rows(api, "/system/identity/print") == [{"name": "cafe-main"}]
    await api.close()
    with pytest.raises(TrapError) as info:
        await librouteros.async_connect("127.0.0.1", USER, "wrong", port=sim.port, timeout=2)
    assert info.value.message == "invalid user name or password (6)"
    assert sim.sent("/login")[-1] == {"name": USER, "password": "******"}
    assert all("wrong" not in word for sentence in sim.commands for word in sentence)


async def test_blocking_client_in_a_thread(sim: RouterOSSimulator) -> None:
    def work() -> list[dict[str, object]]:
        api = librouteros.connect("127.0.0.1", USER, PASSWORD, port=sim.port, timeout=2)
        try:
            garden = api.path("ip", "hotspot", "walled-garden")
            garden.add(**{"dst-host": "*.mpesa.example", "comment": "payments"})
            return list(garden)
        finally:
            api.close()

    (row,) = await asyncio.to_thread(work)
    assert row["dst-host"] == "*.mpesa.example" and row["action"] == "allow" and row["disabled"] is False
    with pytest.raises(TrapError, match="invalid user name"):
        await asyncio.to_thread(librouteros.connect, "127.0.0.1", "nobody", "x", port=sim.port, timeout=2)


async def test_commands_before_login_are_fatal(sim: RouterOSSimulator) -> None:
    transport = await librouteros.async_create_transport("127.0.0.1", port=sim.port, saddr=None, timeout=2)
    api = AsyncApi(AsyncApiProtocol(transport, "ASCII", timeout=2))
    with pytest.raises(FatalError, match="not logged in"):
        await rows(api, "/ip/hotspot/user/print")


async def test_legacy_challenge_login() -> None:
    async with RouterOSSimulator(USER, PASSWORD, legacy_login=True) as sim:
        api = await connect(sim, login_method=async_token)
        assert await rows(api, "/system/identity/print") == [{"name": "MikroTik"}]
        await api.close()
        with pytest.raises(TrapError, match="cannot log in"):
            await librouteros.async_connect(
                "127.0.0.1", USER, "bad", port=sim.port, timeout=2, login_method=async_token
            )


async def test_quit_is_fatal_and_cancel_is_done(api: AsyncApi) -> None:
    assert await rows(api, "/cancel") == []
    with pytest.raises(FatalError, match="session terminated on request"):
        await rows(api, "/quit")


# --- paths, queries, ids -----------------------------------------------------------------------


async def test_path_add_print_update_remove_with_queries(api: AsyncApi) -> None:
    users = api.path("ip", "hotspot", "user")
    ids = [
        await users.add(name=name, password="p", **{"limit-uptime": up})
        for name, up in (("alice", "1h"), ("bob", "30m"), ("carol", "2h"), ("12345", "0s"))
    ]
    assert ids == ["*1", "*2", "*3", "*4"]

    def names(found: list[dict[str, object]]) -> list[str]:
        return sorted(str(row["name"]) for row in found)

    assert names([r async for r in users.select(Key("name")).where(Key("name") == "bob")]) == ["bob"]
    assert names([r async for r in users.select(Key("name")).where(Key("name") != "bob")]) == [
        "12345",
        "alice",
        "carol",
    ]
    assert names([r async for r in users.select(Key("name")).where(Key("name").In("alice", "carol"))]) == [
        "alice",
        "carol",
    ]
    both = And(Key("profile") == "default", Key("limit-uptime") == "1h")
    assert names([r async for r in users.select(Key("name")).where(both)]) == ["alice"]
    either = Or(Key("name") == "bob", Key("limit-uptime") == "2h", Key("name") == "nobody")
    assert names([r async for r in users.select(Key("name")).where(either)]) == ["bob", "carol"]
    assert names([r async for r in users.select(Key("name")).where(Key("limit-uptime") > "45m")]) == [
        "alice",
        "carol",
    ]
    assert names([r async for r in users.select(Key("name")).where(Key("limit-uptime") < "1h")]) == [
        "12345",
        "bob",
    ]
    assert names([r async for r in users.select(Key("name")).where(Key("disabled") == False)]) == [  # noqa: E712
        "12345",
        "alice",
        "bob",
        "carol",
    ]
    (row,) = [r async for r in users.select(Key(".id"), Key("name")).where(Key("name") == "12345")]
    assert row == {".id": "*4", "name": 12345}  # librouteros turns digit strings into ints

    await users.update(**{".id": "*2", "comment": "vip", "disabled": True})
    (bob,) = [r async for r in users.select().where(Key("name") == "bob")]
    assert bob["comment"] == "vip" and bob["disabled"] is True and bob["limit-uptime"] == "30m"
    assert bob["uptime"] == "0s" and bob["bytes-in"] == 0

    await users.remove("*1", "*3")
    assert names([r async for r in users]) == ["12345", "bob"]
    assert await rows(api, "/ip/hotspot/user/print", "=count-only=") == [{"ret": 2}]


async def test_raw_queries_stack_ops_ids_and_numbers(api: AsyncApi) -> None:
    interfaces = await rows(api, "/interface/print", "?type=ether", "?type=bridge", "?#|")
    assert [row["name"] for row in interfaces] == ["ether1", "ether2", "bridge"]
    assert [r["name"] for r in await rows(api, "/interface/print", "?default-name")] == ["ether1", "ether2"]
    assert [r["name"] for r in await rows(api, "/interface/print", "?-default-name")] == ["bridge"]
    # NOT(type=ether AND name=ether1)
    found = await rows(api, "/interface/print", "?type=ether", "?name=ether1", "?#&!", "=.proplist=name")
    assert found == [{"name": "ether2"}, {"name": "bridge"}]
    # index ops: push copy of index 1, then `0` at word end keeps only the top
    assert len(await rows(api, "/interface/print", "?type=ether", "?type=vlan", "?#1.0")) == 2

    garden = api.path("ip", "hotspot", "walled-garden", "ip")
    for host in ("a.example", "b.example", "c.example"):
        await garden.add(**{"dst-host": host, "action": "accept"})
    await rows(api, "/ip/hotspot/walled-garden/ip/set", "=numbers=*2", "=action=drop")
    await rows(api, "/ip/hotspot/walled-garden/ip/disable", "=.id=*3")
    listed = await rows(api, "/ip/hotspot/walled-garden/ip/print", "=.proplist=.id,action,disabled")
    assert listed == [
        {".id": "*1", "action": "accept", "disabled": False},
        {".id": "*2", "action": "drop", "disabled": False},
        {".id": "*3", "action": "accept", "disabled": True},
    ]
    await rows(api, "/ip/hotspot/walled-garden/ip/remove", "=.id=*1,*3")
    assert [r[".id"] for r in await rows(api, "/ip/hotspot/walled-garden/ip/print")] == ["*2"]

    await plan(api, "p1")
    await rows(api, "/ip/hotspot/user/profile/set", "=numbers=p1", "=rate-limit=1M/2M")
    assert [r["rate-limit"] for r in await rows(api, "/ip/hotspot/user/profile/print", "?name=p1")] == [
        "1M/2M"
    ]
    assert (await trap_of(rows(api, "/ip/hotspot/user/profile/remove", "=.id=*9"))).message == "no such item"
    assert (
        await trap_of(rows(api, "/ip/hotspot/user/profile/set", "=numbers=nope", "=shared-users=2"))
    ).message == ("no such item")


async def test_traps_carry_realistic_messages_and_keep_the_connection(api: AsyncApi) -> None:
    assert (await trap_of(rows(api, "/ip/hotspot/nothing/print"))).message == "no such command prefix"
    assert (await trap_of(rows(api, "/ip/hotspot/user/explode"))).message == "no such command"
    trap = await trap_of(api.path("ip", "hotspot", "user").add(name="u", colour="red"))
    assert trap.message == "unknown parameter colour"
    trap = await trap_of(api.path("ip", "hotspot", "user").add(name="u", profile="gold"))
    assert trap.message == "input does not match any value of profile" and trap.category == 1
    await voucher(api, "u1", "default")
    trap = await trap_of(voucher(api, "u1", "default"))
    assert trap.message == "failure: already have user with this name for this server"
    trap = await trap_of(api.path("ip", "hotspot", "user").add(**{"limit-uptime": "soon", "name": "u2"}))
    assert trap.message == "invalid value for argument limit-uptime"
    assert (
        await trap_of(rows(api, "/ip/hotspot/user/profile/remove", "=numbers=default"))
    ).message.startswith("failure:")
    assert await rows(api, "/system/identity/print") == [{"name": "cafe-main"}]


async def test_values_are_printed_the_routeros_way(api: AsyncApi) -> None:
    await voucher(
        api,
        "v1",
        "default",
        **{
            "mac-address": "aa-bb-cc-dd-ee-01",
            "limit-uptime": "90m",
            "limit-bytes-total": "1G",
            "disabled": "yes",
        },
    )
    (row,) = await rows(api, "/ip/hotspot/user/print", "?name=v1")
    assert row["mac-address"] == MAC1 and row["limit-uptime"] == "1h30m"
    assert row["limit-bytes-total"] == 1073741824 and row["disabled"] is True
    (profile,) = await rows(api, "/ip/hotspot/user/profile/print", "?default=yes")
    assert profile["name"] == "default" and profile[".id"] == "*0" and profile["shared-users"] == 1
    (resource,) = await rows(api, "/system/resource/print")
    assert resource["version"] == "7.16.2 (stable)" and resource["platform"] == "MikroTik"
    assert {"uptime", "cpu-load", "free-memory", "total-memory", "board-name", "architecture-name"} <= set(
        resource
    )
    await call(api, "/system/identity/set", name="cafe-2")
    assert await rows(api, "/system/identity/print") == [{"name": "cafe-2"}]


# --- the billing sequence ----------------------------------------------------------------------


async def test_billing_sequence_end_to_end(sim: RouterOSSimulator, api: AsyncApi) -> None:
    assert await plan(api) == "*1"
    assert await voucher(api, **{"limit-uptime": "30m", "limit-bytes-total": 5_000_000_000}) == "*1"
    (user,) = [
        r
        async for r in api.path("ip", "hotspot", "user")
        .select(Key(".id"), Key("limit-uptime"), Key("limit-bytes-total"))
        .where(Key("name") == "VCH8K2")
    ]
    assert user == {".id": "*1", "limit-uptime": "30m", "limit-bytes-total": 5_000_000_000}

    with pytest.raises(TrapError, match="not found"):
        await login(api)  # the phone is not on the WiFi yet
    sim.add_host(MAC1.lower(), IP1)
    sim.set_demand(MAC1, down_bps=20_000_000, up_bps=10_000_000)  # wants more than the plan gives
    await login(api)
    (session,) = [
        r async for r in api.path("ip", "hotspot", "active").select().where(Key("user") == "VCH8K2")
    ]
    assert session[".id"] == "*1" and session["server"] == "hotspot1" and session["address"] == IP1
    assert session["mac-address"] == MAC1 and session["uptime"] == "0s" and session["bytes-in"] == 0
    assert session["session-time-left"] == "30m" and session["radius"] is False
    (host,) = await rows(api, "/ip/hotspot/host/print")
    assert host["authorized"] is True and host["mac-address"] == MAC1

    sim.advance(60)
    (session,) = await rows(api, "/ip/hotspot/active/print")
    assert session["uptime"] == "1m" and session["session-time-left"] == "29m"
    assert session["bytes-out"] == 5_000_000 // 8 * 60  # download capped at tx=5M
    assert session["bytes-in"] == 2_000_000 // 8 * 60  # upload capped at rx=2M

    sim.advance(30 * 60)  # past limit-uptime: the router logs the user out at exactly 30m
    assert await rows(api, "/ip/hotspot/active/print") == []
    (user,) = await rows(api, "/ip/hotspot/user/print", "?name=VCH8K2")
    assert user["uptime"] == "30m" and user["bytes-out"] == 5_000_000 // 8 * 1800
    assert sim.logouts[-1].cause == "uptime limit reached"
    assert (await rows(api, "/ip/hotspot/host/print"))[0]["authorized"] is False
    with pytest.raises(TrapError, match="user VCH8K2 has reached uptime limit"):
        await login(api)

    # the operator sells more time: raise the limit, and the same device logs in again
    await api.path("ip", "hotspot", "user").update(**{".id": "*1", "limit-uptime": "1h"})
    await login(api)
    (session,) = await rows(api, "/ip/hotspot/active/print")
    assert session["session-time-left"] == "30m" and session["limit-bytes-total"] == 5_000_000_000 - 1800 * (
        5_000_000 // 8 + 2_000_000 // 8
    )
    await api.path("ip", "hotspot", "active").remove(str(session[".id"]))
    assert sim.active == [] and sim.logouts[-1].cause == "admin reset"


async def test_limit_bytes_total_ends_the_session(sim: RouterOSSimulator, api: AsyncApi) -> None:
    await plan(api)
    await voucher(api, **{"limit-bytes-total": 1_000_000})
    sim.add_host(MAC1, IP1)  # default demand: 1 Mbit/s down, 250 kbit/s up = 156250 bytes/s
    await login(api)
    sim.advance(5)
    (session,) = sim.active
    assert session["bytes-in"] == "156250" and session["bytes-out"] == "625000"
    sim.advance(5)
    assert sim.active == []
    user = sim.users["VCH8K2"]
    assert int(user["bytes-in"]) + int(user["bytes-out"]) == 1_000_000 and user["uptime"] == "6s"
    assert sim.logouts[-1].cause == "traffic limit reached"
    with pytest.raises(TrapError, match="has reached traffic limit"):
        await login(api)


async def test_session_timeout_ends_the_session_but_not_the_user(
    sim: RouterOSSimulator, api: AsyncApi
) -> None:
    await plan(api, **{"session-timeout": "10m"})
    await voucher(api)
    sim.add_host(MAC1, IP1)
    await login(api)
    sim.advance(3600)
    assert sim.active == [] and sim.logouts[-1].cause == "session timeout"
    assert sim.users["VCH8K2"]["uptime"] == "10m"
    await login(api)  # no user limit: it may log in again
    assert len(sim.active) == 1


async def test_shared_users_and_mac_binding_are_enforced(sim: RouterOSSimulator, api: AsyncApi) -> None:
    await plan(api)
    await voucher(api)
    await voucher(api, "BOUND", **{"mac-address": MAC1})
    sim.add_host(MAC1, IP1)
    sim.add_host(MAC2, IP2)
    await login(api, mac=MAC1, ip=IP1)
    with pytest.raises(TrapError) as info:
        await login(api, mac=MAC2, ip=IP2)
    assert info.value.message == "no more sessions are allowed for user VCH8K2"
    await api.path("ip", "hotspot", "user", "profile").update(**{".id": "*1", "shared-users": 2})
    await login(api, mac=MAC2, ip=IP2)
    assert sorted(row["mac-address"] for row in sim.active) == [MAC1, MAC2]

    sim.add_host("AA:BB:CC:DD:EE:03", "10.5.50.25")
    with pytest.raises(TrapError) as info:
        await login(api, "BOUND", mac="AA:BB:CC:DD:EE:03", ip="10.5.50.25")
    assert info.value.message == "user BOUND is not allowed to log in from this MAC address"
    with pytest.raises(TrapError, match="invalid username or password"):
        await call(api, "/ip/hotspot/active/login", user="BOUND", password="nope", ip="10.5.50.25")


async def test_dynamic_queue_follows_the_session(sim: RouterOSSimulator, api: AsyncApi) -> None:
    await plan(api)
    await voucher(api)
    sim.add_host(MAC1, IP1)
    sim.set_demand(MAC1, 50_000_000, 50_000_000)
    await login(api)
    queues = api.path("queue", "simple")
    (queue,) = [q async for q in queues.select().where(Key("name") == "<hotspot-VCH8K2>")]
    assert queue["target"] == f"{IP1}/32" and queue["max-limit"] == "2000000/5000000"
    assert queue["dynamic"] is True
    trap = await trap_of(queues.remove(str(queue[".id"])))
    assert trap.message.startswith("failure:")

    await queues.update(**{".id": str(queue[".id"]), "max-limit": "1M/1M"})  # throttle live
    sim.advance(8)
    (session,) = sim.active
    assert session["bytes-out"] == "1000000" and session["bytes-in"] == "1000000"
    (queue,) = [q async for q in queues]
    assert queue["bytes"] == "1000000/1000000" and queue["rate"] == "1000000/1000000"

    await api.path("ip", "hotspot", "active").remove(session[".id"])
    assert [q async for q in queues] == []

    # a static queue on the device's address caps it too (and is not removed at logout)
    await queues.add(name="cap", target=IP1, **{"max-limit": "512k/512k"})
    await api.path("ip", "hotspot", "user", "profile").update(**{".id": "*1", "rate-limit": ""})
    await login(api)
    sim.advance(8)
    assert sim.active[0]["bytes-out"] == "512000"
    assert [q["name"] for q in sim.queues] == ["cap"]


async def test_ip_binding_and_host_removal(sim: RouterOSSimulator, api: AsyncApi) -> None:
    await voucher(api, "free", "default")
    sim.add_host(MAC1, IP1)
    bindings = api.path("ip", "hotspot", "ip-binding")
    binding = await bindings.add(**{"mac-address": MAC1, "type": "bypassed", "comment": "owner phone"})
    (row,) = [b async for b in bindings]
    assert row["type"] == "bypassed" and row["bypassed"] is True and row["blocked"] is False
    assert sim.hosts[0]["bypassed"] == "true"
    await bindings.update(**{".id": binding, "type": "blocked"})
    assert [b["blocked"] async for b in bindings] == [True]
    await bindings.remove(binding)
    assert [b async for b in bindings] == []

    await login(api, "free")
    (host,) = await rows(api, "/ip/hotspot/host/print")
    await rows(api, "/ip/hotspot/host/remove", f"=.id={host['.id']}")
    assert sim.active == [] and sim.hosts == [] and sim.logouts[-1].cause == "host removed"


# --- replies: !empty, tags ---------------------------------------------------------------------


async def test_empty_reply_mode_is_fine_for_librouteros() -> None:
    async with RouterOSSimulator(USER, PASSWORD, version="7.18.2 (stable)") as sim:
        assert sim.empty_replies
        api = await connect(sim)
        assert await rows(api, "/ip/hotspot/user/print", "?=name=nobody") == []
        await api.protocol.writeSentence("/ip/hotspot/active/print")
        assert await api.readSentence() == ("!empty", {})
        assert await api.readSentence() == ("!done", {})
        assert await rows(api, "/ip/hotspot/user/print", "=count-only=") == [{"ret": 0}]
        await api.close()


async def test_tag_is_echoed_only_when_requested(api: AsyncApi) -> None:
    await api.protocol.writeSentence("/system/identity/print", ".tag=7")
    assert await api.protocol.readSentence() == ("!re", ("=name=cafe-main", ".tag=7"))
    assert await api.protocol.readSentence() == ("!done", (".tag=7",))
    await api.protocol.writeSentence("/system/identity/print")
    assert await api.protocol.readSentence() == ("!re", ("=name=cafe-main",))
    assert await api.protocol.readSentence() == ("!done", ())


async def test_split_writes_and_several_clients_at_once(sim: RouterOSSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    data = encode_sentence("/login", f"=name={USER}", f"=password={PASSWORD}", encoding="ascii")
    data += encode_sentence("/system/identity/print", encoding="ascii")
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
    transport = AsyncSocketTransport(reader, writer)
    protocol = AsyncApiProtocol(transport, "ASCII", timeout=2)
    assert await protocol.readSentence() == ("!done", ())
    assert await protocol.readSentence() == ("!re", ("=name=cafe-main",))
    assert await protocol.readSentence() == ("!done", ())
    await protocol.close()

    async def client(n: int) -> list[dict[str, object]]:
        api = await connect(sim)
        await api.path("ip", "hotspot", "walled-garden").add(**{"dst-host": f"site{n}.example"})
        found = await rows(api, "/ip/hotspot/walled-garden/print", f"?dst-host=site{n}.example")
        await api.close()
        return found

    results = await asyncio.gather(*(client(n) for n in range(6)))
    assert all(len(found) == 1 for found in results)
    assert len(sim.rows("/ip/hotspot/walled-garden")) == 6


# --- API-SSL -----------------------------------------------------------------------------------


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_api_ssl() -> None:
    async with RouterOSSimulator(USER, PASSWORD, "tls-router") as plain:
        assert not plain.tls
    sim = RouterOSSimulator(USER, PASSWORD, "tls-router")
    await sim.start(tls=True)
    try:
        api = await connect(sim, ssl_wrapper=client_tls())
        assert await rows(api, "/system/identity/print") == [{"name": "tls-router"}]
        await api.close()

        def blocking() -> object:
            ctx = client_tls()
            api = librouteros.connect("127.0.0.1", USER, PASSWORD, port=sim.port, ssl_wrapper=ctx.wrap_socket)
            try:
                return next(iter(api.path("system", "identity")))["name"]
            finally:
                api.close()

        assert await asyncio.to_thread(blocking) == "tls-router"
    finally:
        await sim.stop()


# --- faults ------------------------------------------------------------------------------------


async def test_fault_refuse(sim: RouterOSSimulator) -> None:
    sim.faults.refuse = True
    with pytest.raises((ConnectionClosed, OSError)):
        await connect(sim)
    sim.faults.clear()
    await (await connect(sim)).close()


async def test_fault_hang(sim: RouterOSSimulator) -> None:
    sim.faults.hang = True
    with pytest.raises(TimeoutError):
        await connect(sim, timeout=0.3)
    sim.faults.hang = False
    api = await connect(sim, timeout=0.3)
    sim.faults.hang = True  # an established connection stops answering too
    with pytest.raises(TimeoutError):
        await rows(api, "/system/resource/print")
    assert sim.commands[-1] == ("/system/resource/print",)
    await api.close()

    def blocking() -> None:
        librouteros.connect("127.0.0.1", USER, PASSWORD, port=sim.port, timeout=0.3)

    with pytest.raises(TimeoutError):
        await asyncio.to_thread(blocking)


async def test_fault_trap(sim: RouterOSSimulator, api: AsyncApi) -> None:
    sim.faults.trap("/ip/hotspot/user/add", "not enough permissions (9)", category=4, times=1)
    trap = await trap_of(voucher(api, "u1", "default"))
    assert (trap.message, trap.category) == ("not enough permissions (9)", 4)
    assert sim.users == {}  # a trapped command changes nothing
    assert await voucher(api, "u1", "default") == "*1"


async def test_fault_drop_mid_reply(sim: RouterOSSimulator, api: AsyncApi) -> None:
    sim.faults.drop("/ip/hotspot/user/add", times=1)
    with pytest.raises(ConnectionClosed):
        await voucher(api, "u1", "default")
    assert "u1" in sim.users  # the command ran; only its reply was lost
    api = await connect(sim)
    sim.faults.drop("/ip/hotspot/user/print")
    with pytest.raises(ConnectionClosed):
        await rows(api, "/ip/hotspot/user/print")
    await api.close()


async def test_fault_slow_replies(sim: RouterOSSimulator) -> None:
    sim.faults.slow(0.5, "/system/resource/print")
    api = await connect(sim, timeout=0.2)
    assert await rows(api, "/system/identity/print") == [{"name": "cafe-main"}]  # other commands are fast
    with pytest.raises(TimeoutError):
        await rows(api, "/system/resource/print")
    await api.close()
    sim.faults.slow(0.1)
    api = await connect(sim, timeout=2)
    assert len(await rows(api, "/system/resource/print")) == 1
    await api.close()


# --- /system/device-mode (7.17+) ----------------------------------------------------------------


async def test_device_mode_menu_is_unknown_before_7_17(sim: RouterOSSimulator, api: AsyncApi) -> None:
    trap = await trap_of(rows(api, "/system/device-mode/print"))
    assert trap.message == "no such command prefix"
    with pytest.raises(ValueError, match="no device-mode"):
        sim.device_mode(hotspot=False)
    with pytest.raises(ValueError, match="no device-mode"):
        RouterOSSimulator(USER, PASSWORD, version="7.16.2 (stable)", device_mode="home")
    await plan(api)
    await voucher(api)
    sim.add_host(MAC1, IP1)
    await login(api)  # nothing forbids the hotspot on older RouterOS
    assert len(sim.active) == 1


async def test_device_mode_prints_one_row_with_the_hotspot_allowed_by_default() -> None:
    async with RouterOSSimulator(USER, PASSWORD, version="7.19.1 (stable)", clock=Clock(1000.0)) as new:
        client = await connect(new)
        try:
            [row] = await rows(client, "/system/device-mode/print")
            assert row["mode"] == "enterprise" and row["hotspot"] is True and row["container"] is False
            assert ".id" not in row and {"scheduler", "socks", "fetch", "romon", "zerotier"} <= set(row)
            [picked] = await rows(client, "/system/device-mode/print", "=.proplist=mode,hotspot")
            assert picked == {"mode": "enterprise", "hotspot": True}
            await plan(client)
            await voucher(client)
            new.add_host(MAC1, IP1)
            await login(client)
            assert len(new.active) == 1
        finally:
            await client.close()


async def test_home_device_mode_refuses_hotspot_logins() -> None:
    async with RouterOSSimulator(
        USER, PASSWORD, version="7.17 (stable)", clock=Clock(1000.0), device_mode="home"
    ) as home:
        client = await connect(home)
        try:
            [row] = await rows(client, "/system/device-mode/print")
            assert row["mode"] == "home" and row["hotspot"] is False and row["fetch"] is False
            await plan(client)
            await voucher(client)
            home.add_host(MAC1, IP1)
            assert (await trap_of(login(client))).message == "not allowed by device-mode"
            assert home.active == []
            home.device_mode("advanced")
            await login(client)
            assert len(home.active) == 1
        finally:
            await client.close()


async def test_turning_the_hotspot_off_ends_sessions_and_refuses_new_logins() -> None:
    async with RouterOSSimulator(USER, PASSWORD, version="7.18.2 (stable)", clock=Clock(1000.0)) as new:
        client = await connect(new)
        try:
            await plan(client)
            await voucher(client)
            new.add_host(MAC1, IP1)
            await login(client)
            row = new.device_mode(hotspot=False, bandwidth_test=False)
            assert (
                row["mode"] == "enterprise" and row["hotspot"] == "false" and row["bandwidth-test"] == "false"
            )
            assert new.active == [] and new.logouts[-1].cause == "reboot"  # confirming it restarts the router
            assert (await trap_of(login(client))).message == "not allowed by device-mode"
            assert new.device_mode()["hotspot"] == "false"
            with pytest.raises(ValueError, match="unknown device-mode"):
                new.device_mode("office")
            with pytest.raises(ValueError, match="unknown device-mode feature"):
                new.device_mode(teleport=True)
        finally:
            await client.close()
