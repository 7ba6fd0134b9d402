"""The `hotspot` command as an owner runs it: serve, migrate and config check, in real processes."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("HOTSPOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _hotspot() -> list[str]:
    """This venv's console script (falls back to `python -m hotspot`)."""
    exe = Path(sys.executable).parent / "hotspot"
    found = str(exe) if exe.is_file() else shutil.which("hotspot")
    return [found] if found else [sys.executable, "-m", "hotspot"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env.update(HOTSPOT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", NO_COLOR="1", **extra)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        out = self.stdout.read_text(errors="replace")
        err = self.stderr.read_text(errors="replace")
        return f"--- stdout ---\n{out}\n--- stderr ---\n{err}"

    def wait_healthy(self) -> httpx.Response:
        deadline = time.monotonic() + START_TIMEOUT
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"hotspot serve exited with {self.proc.returncode}\n{self.output()}")
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=2)
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code == 200:
                    return response
                last = response
            time.sleep(0.2)
        pytest.fail(f"/healthz not 200 within {START_TIMEOUT:g} s (last: {last!r})\n{self.output()}")

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        """Ask the server to stop; return its exit code or fail when it does not stop in time."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"hotspot serve did not exit within {STOP_TIMEOUT:g} s of {sig.name}\n{self.output()}"
            )

    def kill(self) -> None:
        """Last resort for a server that outlived the test: end its process group (it is ours)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start `hotspot serve` in tmp_path (no ./config.yaml there); every server is killed at the end."""
    started: list[Server] = []

    def start(*args: str, data_dir: Path | None = None, **env: str) -> Server:
        port = _free_port()
        n = len(started)
        stdout, stderr = tmp_path / f"serve{n}.out", tmp_path / f"serve{n}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                [*_hotspot(), "serve", "--port", str(port), *args],
                cwd=tmp_path,
                env=_env(data_dir or tmp_path / "data", **env),
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        server = Server(proc, port, stdout, stderr)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def _run(*args: str, cwd: Path, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_hotspot(), *args],
        cwd=cwd,
        env=_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_with_defaults(serve: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = serve()
    health = server.wait_healthy()
    body = health.json()
    assert body["status"] == "ok", body
    assert body["checks"]["database"]["status"] == "ok"

    home = httpx.get(f"{server.url}/", timeout=5, follow_redirects=True)
    assert home.status_code == 200
    assert str(home.url).endswith("/setup")  # a fresh box opens on the setup wizard
    assert home.headers["content-type"].startswith("text/html")
    assert "<html" in home.text.lower()

    stdout = server.stdout.read_text()
    assert str(data_dir) in stdout, server.output()
    assert "built-in defaults" in stdout, server.output()
    assert (data_dir / "hotspot.db").is_file(), "the SQLite database was not created in the data dir"

    code = server.stop(signal.SIGINT)
    assert code in (0, -signal.SIGINT, 128 + signal.SIGINT), server.output()


def test_serve_stops_on_sigterm(serve: Any) -> None:
    server = serve()
    server.wait_healthy()
    code = server.stop(signal.SIGTERM)
    assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), server.output()


def test_several_workers_without_redis_are_refused(serve: Any) -> None:
    server = serve("--workers", "2")
    try:
        code = server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"--workers 2 without Redis was not refused\n{server.output()}")
    assert code == 4, server.output()
    assert "redis.url" in server.stderr.read_text(), server.output()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis_sync.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(f"Redis is required for this test and is unreachable at {REDIS_URL}: {exc}")
    prefix = f"hotspot_test_{secrets.token_hex(4)}"
    yield prefix
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_several_workers_with_redis(serve: Any, tmp_path: Path, redis_prefix: str) -> None:
    config = tmp_path / "redis.yaml"
    config.write_text(f"redis:\n  url: {REDIS_URL}\n  prefix: {redis_prefix}\n", encoding="utf-8")
    server = serve("--workers", "2", "--config", str(config))
    body = server.wait_healthy().json()
    assert body["status"] == "ok", body
    assert body["checks"]["redis"]["status"] == "ok", body
    assert body["checks"]["redis"]["detail"] == "connected", body
    stdout = server.stdout.read_text()
    assert "2 workers" in stdout and str(config) in stdout, server.output()
    for _ in range(4):  # whichever worker answers, it is healthy
        assert httpx.get(f"{server.url}/healthz", timeout=5).json()["checks"]["redis"]["status"] == "ok"
    code = server.stop(signal.SIGINT)
    assert code in (0, -signal.SIGINT, 128 + signal.SIGINT), server.output()


def test_config_check_names_every_problem(tmp_path: Path) -> None:
    missing_var = f"HOTSPOT_TEST_UNSET_{secrets.token_hex(4).upper()}"
    config = tmp_path / "broken.yaml"
    config.write_text(
        "business:\n"
        "  name: Corner Cafe\n"
        "server:\n"
        "  port: eighty\n"  # line 4: wrong type
        "  hots: 0.0.0.0\n"  # line 5: unknown key
        "security:\n"
        f"  secret_key: {{$env: {missing_var}}}\n",  # line 7: the variable is not set
        encoding="utf-8",
    )
    result = _run("config", "check", str(config), cwd=tmp_path, data_dir=tmp_path / "data")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "3 problem(s)" in output, output
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == 3, output
    port, hots, secret = problems
    assert port.startswith(f"{config}:4: server.port: ") and "whole number" in port, output
    assert hots.startswith(f"{config}:5: server.hots: unknown key") and "'host'" in hots, output
    assert secret.startswith(f"{config}:7: security.secret_key: ") and missing_var in secret, output
    assert "configuration OK" not in output


def test_config_check_accepts_the_example(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    result = _run(
        "config",
        "check",
        str(example),
        cwd=tmp_path,
        data_dir=tmp_path / "data",
        HOTSPOT_OWNER_ALERT_URL="json://127.0.0.1:9/alerts",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout


def test_migrate_applies_then_is_up_to_date(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    first = _run("migrate", cwd=tmp_path, data_dir=data_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "applied migration" in first.stdout, first.stdout
    assert "migration(s) applied now" in first.stdout, first.stdout
    assert (data_dir / "hotspot.db").is_file()

    again = _run("migrate", cwd=tmp_path, data_dir=data_dir)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "database is up to date" in again.stdout
    assert "applied" not in again.stdout, again.stdout
