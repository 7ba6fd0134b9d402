"""A fresh box for the setup-wizard browser test: `hotspot serve` with no config file at all, and
the RouterOS and Daraja simulators (hotspot.sim) for the router and M-Pesa steps.

The server is the real command in its own process (granian, the app rebuilt in place when the
wizard saves settings); the simulators run on a background thread of the test process, as in
`hotspot demo`. By hand: `python tests/browser/wizard_server.py` prints the URLs and the
simulators' credentials, then serves until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script; under pytest tests/ is on the path already
    sys.path.insert(0, str(HERE.parent))

from demo_process import free_port, hotspot_command  # noqa: E402

from hotspot.sim.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, DarajaSimulator  # noqa: E402
from hotspot.sim.routeros import RouterOSSimulator  # noqa: E402

ROUTER_USER, ROUTER_PASSWORD = "hotspot", "router-api-pass-7"
DARAJA_KEY, DARAJA_SECRET = "wizard-consumer-key", "wizard-consumer-secret"
START_TIMEOUT = 40.0


@dataclass
class Simulators:
    """A RouterOS API and a Daraja, serving from their own event loop thread."""

    router: RouterOSSimulator = field(
        default_factory=lambda: RouterOSSimulator(ROUTER_USER, ROUTER_PASSWORD, "cafe")
    )
    daraja: DarajaSimulator = field(
        default_factory=lambda: DarajaSimulator(DARAJA_KEY, DARAJA_SECRET, SANDBOX_SHORTCODE, SANDBOX_PASSKEY)
    )
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    closed_port: int = 0  # nothing listens here: "API service off" looks like this

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(self.router.start("127.0.0.1", 0))
                loop.run_until_complete(self.daraja.start("127.0.0.1", 0, realtime=True))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self.thread = threading.Thread(target=run, name="wizard-sims", daemon=True)
        self.thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        self.closed_port = free_port()

    def stop(self) -> None:
        loop = self.loop
        if loop is None:
            return

        async def stop() -> None:
            await self.router.stop()
            await self.daraja.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self.thread is not None:
            self.thread.join(timeout=10)


@dataclass
class Serve:
    """`hotspot serve --port N` on a data folder, nothing else configured."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / f"serve-{int(time.time() * 1000)}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
        env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", HOTSPOT_DATA_DIR=str(self.data_dir))
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*hotspot_command(), "serve", "--port", str(self.port)],
                cwd=self.data_dir,  # no config.yaml here: built-in defaults + what the wizard saves
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hotspot serve exited with {self.proc.returncode}\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"hotspot serve not up within {START_TIMEOUT:g} s\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return
            time.sleep(0.2)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def fresh_box(folder: Path) -> Iterator[tuple[Serve, Simulators]]:
    sims = Simulators()
    sims.start()
    serve = Serve(folder / "data")
    try:
        serve.start()
        yield serve, sims
    finally:
        serve.stop()
        sims.stop()


if __name__ == "__main__":
    with fresh_box(Path(tempfile.mkdtemp(prefix="hotspot-wizard-"))) as (server, simulators):
        print(f"box:    {server.url}/  (data: {server.data_dir})", flush=True)
        print(f"router: 127.0.0.1:{simulators.router.port}  user {ROUTER_USER} / {ROUTER_PASSWORD}")
        print(f"daraja: {simulators.daraja.base_url}  key {DARAJA_KEY} / {DARAJA_SECRET}")
        print(f"        shortcode {SANDBOX_SHORTCODE}, passkey {SANDBOX_PASSKEY}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
