"""Portal landing page vs a bare Litestar page: `python bench/portal_landing.py [--server granian|uvicorn]`.

Why: every phone that joins the WiFi is sent to `GET /portal?mac=...&ip=...&identity=...
&link-login-only=...&link-orig=...` by the router's login page, often many at once (a bus pulls
in). The target: the landing page serves at least 0.5x the requests/s of a bare Litestar "hello"
page on the same ASGI server, in the same run.

How: the real app (`create_app` through `hotspot serve`, i.e. granian, one worker; or uvicorn with
the same factory, one worker) on the embedded defaults (SQLite in a temporary data dir, in-process
stores), with the two packages of config.example.yaml seeded from the config's `packages:`, no
plugins enabled (no routers, no gateway), and `rate_limit.enabled: false` (a landing is not
counted by the per-IP limit, but wrk sends everything from one address: a request the landing
passed on would soon be a 429); logging stays at its default, INFO, where a successful read's
request line is DEBUG (hotspot.http.request_id): a landing writes no line. The bare page is
`hello_app()` below, served by the same server the same way. Both servers run side by side (one
idle while the other is loaded); each is warmed up with wrk (--warmup seconds, not counted), then
they are loaded in turn, hello then portal, --rounds times, with `wrk -t2 -c32 -d10s` (--threads,
--connections, --seconds). Alternating keeps a change in the machine's background load from
landing on one app only; the verdict compares the mean req/s of each over the rounds.

Both apps get the same requests from one wrk Lua script: the router's query string with a
distinct MAC and IP per request (--fixed-mac: one device for all), and `Accept-Encoding: gzip` as
every phone browser sends it, so the portal's HTML is gzipped as in production. Each request has
no cookie and a MAC without orders: a new phone, answered by hotspot.portal.landing (the device
looked up in the database, the page from a pre-gzipped rendition, the router's redirect drawn
into the buy form; no session stored). --fixed-mac sends one MAC for all, same path.
Also printed: the landing page's size on the wire (and unpacked), and wrk's bytes per response.

Needs wrk (Debian package `wrk`); uvicorn for --server uvicorn. wrk runs on this machine too, so
on a small box it takes CPU from the server: compare the ratio, not the absolute figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_servers import free_port

BENCH_DIR = Path(__file__).resolve().parent
TARGET_RATIO = 0.5
PORTAL = "/portal"
HELLO = "/hello"
APPS = {"hello": HELLO, "portal": PORTAL}  # measured in this order, alternately, every round
STOP_SECONDS = 10
# The packages of config.example.yaml: what a new box shows until the owner edits the catalogue.
CONFIG = """\
rate_limit:
  enabled: false
packages:
  - name: 1 hour
    description: Browse and chat
    price: 20 KES
    duration: 1h
    down: 5M
    up: 2M
    devices: 1
    visible: true
    sort_order: 1
  - name: 1 day
    price: [50 KES]
    duration: 1d
    data: 2GB
    down: 10M
    up: 5M
    devices: 2
    sort_order: 2
"""

# One request generator for both apps: the router's redirect, a new device per request (or one).
WRK_SCRIPT = r"""
local path, fixed
local n = 0
local threads = 0

function init(args)
  path = args[1]
  fixed = args[2] == "fixed"
end

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function esc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  n = n + 1
  local k = fixed and 1 or n
  local t = fixed and 0 or tid
  local mac = string.format("02:42:%02X:%02X:%02X:%02X",
    t % 256, math.floor(k / 65536) % 256, math.floor(k / 256) % 256, k % 256)
  local ip = string.format("10.%d.%d.%d", 5 + t % 200, math.floor(k / 250) % 250, k % 250 + 2)
  local query = "?mac=" .. esc(mac) .. "&ip=" .. ip .. "&identity=cafe-main"
    .. "&link-login-only=" .. esc("http://10.5.50.1/login")
    .. "&link-orig=" .. esc("http://example.com/")
  return wrk.format("GET", path .. query)
end
"""
QUERY_EXAMPLE = {
    "mac": "02:42:00:00:00:01",
    "ip": "10.5.0.3",
    "identity": "cafe-main",
    "link-login-only": "http://10.5.50.1/login",
    "link-orig": "http://example.com/",
}


def hello_app() -> Any:
    """The baseline: a bare Litestar app with one small async HTML page (no middleware, no DB)."""
    from litestar import Litestar, MediaType, get

    @get(HELLO, media_type=MediaType.HTML)
    async def hello() -> str:
        return "<!doctype html><title>Hello</title><p>Hello, world</p>"

    return Litestar(route_handlers=[hello], logging_config=None)


def serve_hello_with_granian(port: int) -> None:
    """What `hotspot serve` does (hotspot/cli.py), for `hello_app` instead of the hotspot app."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "portal_landing:hello_app",
        factory=True,
        address="127.0.0.1",
        port=port,
        workers=1,
        interface=Interfaces.ASGI,
        log_access=False,
        respawn_failed_workers=True,
    ).serve()


def command(server: str, app: str, port: int, config: Path) -> list[str]:
    if server == "granian":
        if app == "portal":
            return [sys.executable, "-m", "hotspot", "serve", "--config", str(config), "--port", str(port)]
        return [sys.executable, str(Path(__file__).resolve()), "--serve-hello", str(port)]
    factory = "hotspot.app:app_from_env" if app == "portal" else "portal_landing:hello_app"
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--app-dir",
        str(BENCH_DIR),
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def serving(server: str, app: str, port: int, data_dir: Path, config: Path) -> Iterator[None]:
    env = {
        **os.environ,
        "HOTSPOT_DATA_DIR": str(data_dir),
        "HOTSPOT_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])),
    }
    ready = "/healthz" if app == "portal" else HELLO
    proc = subprocess.Popen(
        command(server, app, port, config),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=data_dir,
        start_new_session=True,  # its own process group: granian's worker goes down with it
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"{server} serving {app} exited with {proc.returncode}")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{server} serving {app} did not start")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(
                f"WARNING: {server} serving {app} did not stop within {STOP_SECONDS} s of SIGINT;"
                " killing its process group",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # granian's worker too, not only its parent
            proc.wait()


@dataclass
class Load:
    rps: float
    p50: str
    p99: str
    requests: int
    bytes_per_response: float
    bad: int  # non-2xx/3xx answers plus socket errors


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def wrk(port: int, path: str, args: argparse.Namespace, script: Path, seconds: int) -> Load:
    out = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            "Accept-Encoding: gzip, deflate",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            path,
            "fixed" if args.fixed_mac else "distinct",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        return match

    total = find(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read")
    requests = int(total.group(1))
    read = float(total.group(2)) * _UNITS[total.group(3)]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return Load(
        rps=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
        # Anchored: a Req/Sec "+/- Stdev" such as 62.50% must not be read as the 50th percentile.
        p50=find(r"^\s+50%\s+(\S+)").group(1),
        p99=find(r"^\s+99%\s+(\S+)").group(1),
        requests=requests,
        bytes_per_response=read / requests if requests else 0.0,
        bad=bad,
    )


def landing_size(port: int) -> tuple[int, int, str, bool]:
    """(bytes on the wire, bytes unpacked, Content-Encoding, packages shown) of one landing page."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        with client.stream("GET", PORTAL, params=QUERY_EXAMPLE, headers={"Accept-Encoding": "gzip"}) as r:
            r.raise_for_status()
            body = r.read()
            wire = r.num_bytes_downloaded
            encoding = r.headers.get("content-encoding", "identity")
    html = body.decode()
    return wire, len(body), encoding, "1 hour" in html and "1 day" in html


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="hello then portal, this many times")
    parser.add_argument("--fixed-mac", action="store_true", help="one device for every request")
    parser.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello_with_granian(args.serve_hello)
        return
    if subprocess.run(["which", "wrk"], capture_output=True).returncode:
        sys.exit("wrk is not installed: apt-get install wrk")

    device = "one fixed MAC/IP" if args.fixed_mac else "a distinct MAC/IP per request"
    print(
        f"portal landing vs bare Litestar: {args.server}, 1 worker; wrk -t{args.threads}"
        f" -c{args.connections} -d{args.seconds}s after {args.warmup}s warm-up; {device},"
        " Accept-Encoding gzip, no cookies (a new phone per request); SQLite, in-process stores,"
        " 2 packages, rate_limit.enabled: false",
        flush=True,
    )
    rounds: list[dict[str, Load]] = []
    with contextlib.ExitStack() as stack:
        tmp_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotspot-bench-")))
        script = tmp_dir / "portal.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        config = tmp_dir / "config.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        ports: dict[str, int] = {}
        for app in APPS:
            data_dir = tmp_dir / app
            data_dir.mkdir()
            ports[app] = free_port()
            stack.enter_context(serving(args.server, app, ports[app], data_dir, config))
        size = landing_size(ports["portal"])
        if not size[3]:
            sys.exit("the landing page does not list the seeded packages")
        for app, path in APPS.items():
            wrk(ports[app], path, args, script, args.warmup)
        print(
            f"{'round':5} {'app':7} {'req/s':>8} {'p50':>9} {'p99':>9} {'B/resp':>7} {'bad':>5} {'ratio':>6}",
            flush=True,
        )
        for n in range(1, args.rounds + 1):
            loads = {app: wrk(ports[app], path, args, script, args.seconds) for app, path in APPS.items()}
            rounds.append(loads)
            for app, load in loads.items():
                ratio = f"{load.rps / loads['hello'].rps:6.2f}" if app == "portal" else ""
                print(
                    f"{n:5d} {app:7} {load.rps:8.0f} {load.p50:>9} {load.p99:>9}"
                    f" {load.bytes_per_response:7.0f} {load.bad:5d} {ratio:>6}",
                    flush=True,
                )
    hello = statistics.fmean(r["hello"].rps for r in rounds)
    portal = statistics.fmean(r["portal"].rps for r in rounds)
    bad = sum(r["portal"].bad for r in rounds)
    ratio = portal / hello
    verdict = "PASS" if ratio >= TARGET_RATIO and not bad else "FAIL"
    print(
        f"portal {portal:.0f} req/s / hello {hello:.0f} req/s (means over {len(rounds)} rounds)"
        f" = {ratio:.2f}x (target >= {TARGET_RATIO:g}x): {verdict}"
    )
    wire, unpacked, encoding, _ = size
    print(
        f"landing HTML: {wire:,} B on the wire (Content-Encoding: {encoding}), {unpacked:,} B unpacked;"
        " B/resp = wrk's bytes read per response, headers included; bad = non-2xx/3xx + socket errors"
    )


if __name__ == "__main__":
    main()
