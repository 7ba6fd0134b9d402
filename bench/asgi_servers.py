"""Compare ASGI servers on the real app: `python bench/asgi_servers.py [--seconds 10]`.

Starts the same app (embedded SQLite defaults, fresh data dir) under granian (what `hotspot
serve` uses) and uvicorn, one worker each, and loads it with wrk (Debian package `wrk`) from
this machine. Prints requests/s and latency per server and path. Needs: pip install uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx

PATHS = ["/healthz", "/static/vendor/htmx/htmx.min.js", "/api/v1/nothing"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(kind: str, port: int, data_dir: str) -> Iterator[None]:
    env = {**os.environ, "HOTSPOT_DATA_DIR": data_dir, "HOTSPOT_CONFIG": ""}
    if kind == "granian":
        cmd = [sys.executable, "-m", "hotspot", "serve", "--port", str(port)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "hotspot.app:app_from_env",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data_dir)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{kind} did not start")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, seconds: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    print(f"{'server':8} {'path':34} {'req/s':>9} {'p50':>9} {'p99':>9}")
    for kind in ("granian", "uvicorn"):
        with tempfile.TemporaryDirectory() as data_dir:
            port = free_port()
            with server(kind, port, data_dir):
                for path in PATHS:
                    rps, p50, p99 = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                    print(f"{kind:8} {path:34} {rps:9.0f} {p50:>9} {p99:>9}", flush=True)


if __name__ == "__main__":
    main()
