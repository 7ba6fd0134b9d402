"""`hotspot demo` in a real process, for the packaging and browser tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 40.0


def hotspot_command() -> list[str]:
    """This venv's console script (falls back to `python -m hotspot`)."""
    exe = Path(sys.executable).parent / "hotspot"
    found = str(exe) if exe.is_file() else shutil.which("hotspot")
    return [found] if found else [sys.executable, "-m", "hotspot"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DemoProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    portal_url: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_demo(folder: Path) -> Iterator[DemoProcess]:
    """Start `hotspot demo`, wait until /healthz answers and the portal URL is printed; kill it after."""
    port = free_port()
    log = folder / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", HOTSPOT_DATA_DIR=str(folder / "unused"))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*hotspot_command(), "demo", "--port", str(port), "--data-dir", str(folder / "demo-data")],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    demo = DemoProcess(proc, port, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"hotspot demo exited with {proc.returncode}\n{demo.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"hotspot demo not up within {START_TIMEOUT:g} s\n{demo.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{demo.url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        match = re.search(r"customer portal:\s+(\S+)", demo.output())
        if not match:
            raise RuntimeError(f"hotspot demo printed no portal URL\n{demo.output()}")
        demo.portal_url = match[1]
        yield demo
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
