"""A tiny HTTP/1.1 server for an ASGI app, on the current event loop (for simulators only).

Simulators must serve on a real loopback port inside a test's event loop and start/stop in
milliseconds; granian runs its own workers and uvicorn is not a dependency. h11 (the parser httpx
itself uses, via httpcore) does the protocol work; responses are buffered, which is fine for small
JSON APIs. No TLS, no lifespan, no websockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import h11

__all__ = ["ASGIApp", "MiniServer"]

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]  # (scope, receive, send), loosely typed
_MAX_BODY = 1 << 20


class MiniServer:
    """Serve `app` on host:port (0 = a free port) until `stop()`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            pass
        except asyncio.CancelledError:
            # stop() cancels us; ending normally keeps asyncio's stream callback from logging it.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _next_event(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            conn.receive_data(await reader.read(65536))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        peer = writer.get_extra_info("peername") or ("", 0)
        while True:
            try:
                event = await self._next_event(conn, reader)
            except h11.RemoteProtocolError:
                await self._send(conn, writer, 400, [(b"content-length", b"0")], b"")
                return
            if isinstance(event, h11.ConnectionClosed) or not isinstance(event, h11.Request):
                return
            body = bytearray()
            while True:
                part = await self._next_event(conn, reader)
                if isinstance(part, h11.Data):
                    body += part.data
                    if len(body) > _MAX_BODY:
                        await self._send(conn, writer, 413, [(b"content-length", b"0")], b"")
                        return
                elif isinstance(part, h11.EndOfMessage):
                    break
                else:
                    return
            status, headers, content = await self._call_app(event, bytes(body), peer)
            await self._send(conn, writer, status, headers, content)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    async def _call_app(
        self, request: h11.Request, body: bytes, peer: tuple[str, int]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        target = bytes(request.target)
        raw_path, _, query = target.partition(b"?")
        sock = self._server.sockets[0].getsockname() if self._server else (self.host, self.port)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode(),
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers],
            "client": (str(peer[0]), int(peer[1])),
            "server": (str(sock[0]), int(sock[1])),
            "state": {},
        }
        sent_request = False
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        content = bytearray()

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects mid-request here
            return {"type": "http.disconnect"}  # pragma: no cover

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                content.extend(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("simulator app failed")
            return 500, [(b"content-length", b"0")], b""
        headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding")]
        headers.append((b"content-length", str(len(content)).encode()))
        return status, headers, bytes(content)

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
    ) -> None:
        data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        if content:
            data += conn.send(h11.Data(data=content)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()
