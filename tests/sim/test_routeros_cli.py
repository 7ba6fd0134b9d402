"""`hotspot sim routeros` in a real process: it serves the API until Ctrl-C, then exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import librouteros
import pytest

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _sigint_delivered() -> Iterator[None]:
    """A child inherits an ignored SIGINT (e.g. under nohup), and Python then never sees Ctrl-C."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _output(out: Path, err: Path) -> str:
    stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    return f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"


async def _wait_for_port(proc: subprocess.Popen[bytes], port: int, out: Path, err: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"hotspot sim routeros exited with {proc.returncode}\n{_output(out, err)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    pytest.fail(f"port {port} not accepting connections within {START_TIMEOUT:g} s\n{_output(out, err)}")


@pytest.mark.slow
async def test_sim_routeros_serves_the_api_until_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    out, err = tmp_path / "sim.out", tmp_path / "sim.err"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1")
    command = [sys.executable, "-m", "hotspot", "sim", "routeros", "--port", str(port)]
    command += ["--user", "u", "--password", "p", "--identity", "lab-router"]
    command += ["--device", "AA:BB:CC:DD:EE:01=10.5.50.2"]
    with out.open("wb") as stdout, err.open("wb") as stderr, _sigint_delivered():
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    try:
        await _wait_for_port(proc, port, out, err)
        api = await librouteros.async_connect("127.0.0.1", "u", "p", port=port, timeout=5)
        try:
            assert [row async for row in api.rawCmd("/system/identity/print")] == [{"name": "lab-router"}]
            hosts = [row async for row in api.rawCmd("/ip/hotspot/host/print")]
            assert [(h["mac-address"], h["address"]) for h in hosts] == [("AA:BB:CC:DD:EE:01", "10.5.50.2")]
        finally:
            await api.close()

        proc.send_signal(signal.SIGINT)
        try:
            code = await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {STOP_TIMEOUT:g} s of SIGINT\n{_output(out, err)}")
        assert code == 0, _output(out, err)
        stdout_text = out.read_text()
        assert f"listening on 127.0.0.1:{port}" in stdout_text and "login: u / ******" in stdout_text
        assert stdout_text.rstrip().endswith("stopped")
        assert "Traceback" not in err.read_text()
    finally:
        if proc.poll() is None:  # only on a failure above: the process and its group are ours
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
