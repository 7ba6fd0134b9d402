"""The appliance installer and image files: scripts, systemd units, nginx site, config template.

Nothing here installs anything: the scripts run with --dry-run, with the commands they would use
to change the system replaced by stubs that record any call (there must be none). The tools that
check the files (shellcheck, nginx, systemd-analyze) are required when $CI is set and skip the
test only on a developer's machine without them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hotspot.config import load_settings

REPO = Path(__file__).resolve().parents[2]
ROOTFS = REPO / "appliance" / "rootfs"
INSTALL = REPO / "installer" / "install.sh"
UNINSTALL = REPO / "installer" / "uninstall.sh"
BUILD = REPO / "appliance" / "build.sh"
LIB = REPO / "installer" / "lib.sh"  # sourced by the three scripts above: output, run, options
BACKUP = ROOTFS / "usr" / "local" / "lib" / "hotspot" / "backup.sh"
SCRIPTS = [INSTALL, UNINSTALL, BUILD, BACKUP]
UNIT_DIR = ROOTFS / "etc" / "systemd" / "system"
UNITS = sorted(p for p in UNIT_DIR.iterdir() if p.suffix in {".service", ".timer"})
SITE = ROOTFS / "etc" / "nginx" / "sites-available" / "hotspot"
TEMPLATE = ROOTFS / "etc" / "hotspot" / "config.yaml.template"
CI = bool(os.environ.get("CI"))

# Commands the scripts use to change the system. In a dry run each is a stub that records its
# call; `od` (the secrets' only source of randomness) prints a known value instead.
MUTATING = [
    "apt-get", "useradd", "userdel", "install", "systemctl", "runuser", "ln", "rm", "nginx", "touch",
    "mkdir", "chown", "chmod", "mv", "cp", "mktemp", "createdb", "dropdb", "psql", "pg_isready",
    "python3", "python3.11", "mount", "umount", "chroot", "tar", "flock", "journalctl",
]  # fmt: skip
FAKE_RANDOM = "5ec7e75ec7e75ec7e75ec7e7"  # what the stub od makes every secret out of


def tool(name: str) -> str:
    """Path of a checking tool; missing fails the test in CI and skips it elsewhere."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    if CI:
        pytest.fail(f"{name} is required in CI (apt-get install it, as .ci/run does)")
    pytest.skip(f"{name} is not installed")


@pytest.fixture
def stubs(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """(env, log): PATH starts with stubs of every mutating command, each appending to log."""
    bin_dir, log = tmp_path / "stub-bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    log.touch()
    for name in MUTATING:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        stub.chmod(0o755)
    od = bin_dir / "od"
    pairs = " ".join(FAKE_RANDOM[i : i + 2] for i in range(0, len(FAKE_RANDOM), 2))
    od.write_text(f'#!/bin/sh\necho "od $*" >> "{log}.od"\necho " {pairs}"\n')
    od.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
    }
    return env, log


def run_script(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def actions(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def index_of(planned: list[str], pattern: str) -> int:
    for i, action in enumerate(planned):
        if re.search(pattern, action):
            return i
    raise AssertionError(f"no planned action matches {pattern!r}:\n" + "\n".join(planned))


# --- the scripts as shell --------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_is_executable(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert os.access(script, os.X_OK), f"{script} is not executable"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text


def test_shellcheck_is_clean() -> None:
    shellcheck = tool("shellcheck")
    result = subprocess.run(
        [shellcheck, "--external-sources", "--severity=info", *map(str, [*SCRIPTS, LIB])],
        cwd="/",  # the scripts' `source=` directives must not depend on where shellcheck runs
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lib_is_sourced_by_every_script_and_defined_nowhere_else() -> None:
    result = subprocess.run(["bash", "-n", str(LIB)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    text = LIB.read_text()
    assert text.startswith("# shellcheck shell=bash\n") and not os.access(LIB, os.X_OK), "sourced, never run"
    assert not re.search(r"^set ", text, re.MULTILINE), "the scripts set the shell options, not lib.sh"
    shared = re.findall(r"^([a-z_]+)\(\) \{", text, re.MULTILINE)
    assert {"say", "note", "warn", "die", "usage", "run", "common_option", "refuse"} <= set(shared)
    for script in (INSTALL, UNINSTALL, BUILD):
        source = script.read_text()
        assert re.search(
            r'^\. "\$\(dirname "\$\(readlink -f "\$\{BASH_SOURCE\[0\]\}"\)"\)/.*lib\.sh"$', source, re.M
        )
        again = [name for name in shared if re.search(rf"^{name}\(\) \{{", source, re.MULTILINE)]
        assert again == [], f"{script.name} defines again what lib.sh has: {again}"


# --- install.sh --dry-run --------------------------------------------------------------------


@pytest.fixture
def fresh_plan(stubs: tuple[dict[str, str], Path]) -> tuple[subprocess.CompletedProcess[str], Path]:
    env, log = stubs
    result = run_script(INSTALL, "--dry-run", "--assume-fresh", "--source", str(REPO), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, log


def test_dry_run_plans_the_whole_install(fresh_plan: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = fresh_plan
    planned = actions(result.stdout)
    steps = [
        r"^apt-get update$",
        r"^env DEBIAN_FRONTEND=noninteractive apt-get install -y .*\bpython3-venv\b.*\bnginx\b.*"
        r"\bpostgresql\b.*\bredis-server\b.*\blibpango-1\.0-0\b.*\blibpangoft2-1\.0-0\b",
        r"^useradd --system .*--shell /usr/sbin/nologin .*hotspot$",
        r"^install -d -m 0700 -o hotspot -g hotspot /etc/hotspot/secrets$",
        r"^python3(\.11)? -m venv /opt/hotspot/venv$",
        rf"^/opt/hotspot/venv/bin/python -m pip install .*{re.escape(str(REPO))}$",
        r"^install -D -m 0644 .*/etc/nginx/sites-available/hotspot /etc/nginx/sites-available/hotspot$",
        r"^install -D -m 0644 .*/hotspot-backup\.timer /etc/systemd/system/hotspot-backup\.timer$",
        r"^install -D -m 0644 .*/etc/systemd/system/hotspot\.service /etc/systemd/system/hotspot\.service$",
        r"^install -D -m 0755 .*/backup\.sh /usr/local/lib/hotspot/backup\.sh$",
        r"^install -D -m 0644 .*/installer/lib\.sh /usr/local/lib/hotspot/lib\.sh$",  # before its users
        r"^install -D -m 0755 .*/installer/install\.sh /usr/local/lib/hotspot/install\.sh$",
        r"^install -D -m 0755 .*/installer/uninstall\.sh /usr/local/lib/hotspot/uninstall\.sh$",
        r"^ln -sfn /etc/nginx/sites-available/hotspot /etc/nginx/sites-enabled/hotspot$",
        r"^rm -f /etc/nginx/sites-enabled/default$",
        r"^nginx -t",
        r"^systemctl daemon-reload$",
        r"^systemctl enable .*redis-server\.service.*hotspot-backup\.timer",
        r"^systemctl enable --now postgresql\.service redis-server\.service$",
        r"^write_file 0600 hotspot:hotspot /etc/hotspot/secrets/db_password$",
        r"^write_file 0600 hotspot:hotspot /etc/hotspot/secrets/database_url$",
        r"^write_file 0600 hotspot:hotspot /etc/hotspot/secrets/secret_key$",
        r"^write_file 0640 root:hotspot /etc/hotspot/config\.yaml$",
        r"^runuser -u postgres -- psql ",
        r"^runuser -u postgres -- createdb --owner=hotspot .*hotspot$",
        r"^runuser -u hotspot -- /opt/hotspot/venv/bin/hotspot config check /etc/hotspot/config\.yaml$",
        r"^runuser -u hotspot -- /opt/hotspot/venv/bin/hotspot migrate --config /etc/hotspot/config\.yaml$",
        r"^systemctl enable hotspot\.service$",
        r"^systemctl restart hotspot\.service$",
        r"^systemctl reload-or-restart nginx\.service$",
        r"^touch /var/lib/hotspot/\.installed$",
    ]
    positions = [index_of(planned, step) for step in steps]
    assert positions == sorted(positions), "the steps are planned out of order"
    assert "CREATE ROLE hotspot LOGIN PASSWORD </etc/hotspot/secrets/db_password>" in result.stdout
    assert "/healthz" in result.stdout
    assert re.search(r"setup wizard at:\n\n    http://\S+/\n", result.stdout)
    # the firstboot unit is for images only
    assert not any("hotspot-firstboot.service" in a for a in planned if a.startswith("systemctl"))


def test_dry_run_changes_nothing_and_never_prints_a_secret(
    fresh_plan: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, log = fresh_plan
    assert log.read_text() == "", "a dry run executed a command that changes the system"
    od_calls = Path(f"{log}.od").read_text().splitlines()
    assert len(od_calls) == 2, (
        "the dry run should generate the DB password and secret key (and print neither)"
    )
    everything = result.stdout + result.stderr
    assert FAKE_RANDOM[:16] not in everything
    assert not re.search(r"postgresql://hotspot:[^<]", everything)
    assert not re.search(r"[0-9a-f]{32,}", everything), "something that looks like a secret was printed"


def test_dry_run_works_on_an_installed_box_and_without_root(stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    result = run_script(INSTALL, "--dry-run", env=env)  # default --source: the checkout holding it
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== Checks" in result.stdout and "== Done" in result.stdout
    if os.geteuid() != 0:
        assert "run this as root" in result.stderr and "--dry-run goes on" in result.stderr
    # Only read-only probes of what exists (here: PostgreSQL's roles, databases and port).
    probe = re.compile(r"^runuser -u postgres -- psql -XtAq -d postgres -c (SELECT|SHOW) ")
    assert [call for call in log.read_text().splitlines() if not probe.match(call)] == []


def test_image_mode_leaves_secrets_and_services_to_the_first_boot(stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    result = run_script(INSTALL, "--dry-run", "--assume-fresh", "--image", "--source", str(REPO), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    planned = actions(result.stdout)
    index_of(planned, r"^python3 -m venv /opt/hotspot/venv$")
    index_of(planned, r"^systemctl enable hotspot-firstboot\.service$")
    for absent in ("secrets/", "config.yaml$", "createdb", "migrate", "restart", "--now", "daemon-reload"):
        assert not any(re.search(absent, a) for a in planned), f"--image must not plan {absent!r}"
    assert not Path(f"{log}.od").exists(), "an image must not contain generated secrets"


def test_firstboot_mode_is_only_the_per_box_part(stubs: tuple[dict[str, str], Path]) -> None:
    env, _ = stubs
    result = run_script(INSTALL, "--dry-run", "--assume-fresh", "--firstboot", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    planned = actions(result.stdout)
    assert not any(a.startswith(("apt-get", "useradd")) or "pip install" in a for a in planned)
    index_of(planned, r"^runuser -u postgres -- createdb ")
    index_of(planned, r"^systemctl restart --no-block hotspot\.service$")
    index_of(planned, r"^systemctl disable hotspot-firstboot\.service$")


def os_release(tmp_path: Path, text: str) -> str:
    path = tmp_path / "os-release"
    path.write_text(text)
    return str(path)


def test_unsupported_system_is_refused_before_any_change(
    tmp_path: Path, stubs: tuple[dict[str, str], Path]
) -> None:
    env, log = stubs
    env["HOTSPOT_OS_RELEASE"] = os_release(tmp_path, 'ID=fedora\nVERSION_ID="40"\nPRETTY_NAME="Fedora 40"\n')
    real = run_script(INSTALL, "--source", str(REPO), env=env)
    assert real.returncode == 1
    assert "ERROR:" in real.stderr
    assert actions(real.stdout) == [] and log.read_text() == ""

    dry = run_script(INSTALL, "--dry-run", "--assume-fresh", "--source", str(REPO), env=env)
    assert dry.returncode == 0
    assert "Fedora 40" in dry.stderr and "a real run would stop here" in dry.stderr

    env["HOTSPOT_OS_RELEASE"] = os_release(tmp_path, 'ID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian 11"\n')
    assert "Debian 12 (bookworm) or newer" in run_script(INSTALL, "--dry-run", env=env).stderr


def test_ubuntu_2204_gets_python_311(tmp_path: Path, stubs: tuple[dict[str, str], Path]) -> None:
    env, _ = stubs
    env["HOTSPOT_OS_RELEASE"] = os_release(
        tmp_path, 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n'
    )
    result = run_script(INSTALL, "--dry-run", "--assume-fresh", env=env)
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr
    planned = actions(result.stdout)
    index_of(planned, r"apt-get install .*\bpython3\.11 python3\.11-venv\b")
    index_of(planned, r"^python3\.11 -m venv /opt/hotspot/venv$")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument"),
        (["--workers", "0"], "--workers"),
        (["--assume-fresh"], "only makes sense with --dry-run"),
        (["--source", "/nonexistent-hotspot-checkout"], "no such directory"),
        (["--source", "/"], "not a Hotspot checkout"),
    ],
)
def test_bad_arguments(args: list[str], message: str, stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    result = run_script(INSTALL, *args, env=env)
    assert result.returncode == 1 and message in result.stderr
    assert log.read_text() == ""


@pytest.mark.parametrize(
    ("script", "first_line"),
    [
        (INSTALL, "Install or update Hotspot"),
        (UNINSTALL, "Remove Hotspot from this box"),
        (BUILD, "Put Hotspot into an image's root filesystem"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_help_and_unknown_options(script: Path, first_line: str, stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    for flag in ("--help", "-h"):
        result = run_script(script, flag, "--bogus", env=env)  # help first: the rest is not read
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(first_line)  # the script's own header, not lib.sh's
        assert "--dry-run" in result.stdout and "set -euo" not in result.stdout
    bogus = run_script(script, "--dry-run", "--bogus", env=env)
    assert bogus.returncode == 1 and re.match(r"ERROR: unknown (argument|option): --bogus", bogus.stderr)
    assert bogus.stdout == "" and log.read_text() == ""


def test_installed_copies_run_without_the_checkout(
    tmp_path: Path, stubs: tuple[dict[str, str], Path]
) -> None:
    """/usr/local/lib/hotspot holds install.sh, uninstall.sh and the lib.sh they source."""
    env, log = stubs
    lib_dir, elsewhere = tmp_path / "usr-local-lib-hotspot", tmp_path / "bin"
    lib_dir.mkdir()
    elsewhere.mkdir()
    for script in (INSTALL, UNINSTALL, LIB):
        shutil.copy2(script, lib_dir / script.name)
    (elsewhere / "hotspot-uninstall").symlink_to(lib_dir / "uninstall.sh")  # lib.sh: next to the target

    firstboot = run_script(lib_dir / "install.sh", "--dry-run", "--assume-fresh", "--firstboot", env=env)
    assert firstboot.returncode == 0, firstboot.stdout + firstboot.stderr
    index_of(actions(firstboot.stdout), r"^systemctl disable hotspot-firstboot\.service$")
    for uninstall in (lib_dir / "uninstall.sh", elsewhere / "hotspot-uninstall"):
        result = run_script(uninstall, "--dry-run", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        index_of(actions(result.stdout), r"^rm -rf /opt/hotspot /usr/local/lib/hotspot$")
    assert log.read_text() == ""


# --- uninstall.sh and build.sh ---------------------------------------------------------------


def test_uninstall_keeps_data_unless_purge(stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    keep = run_script(UNINSTALL, "--dry-run", env=env)
    assert keep.returncode == 0, keep.stderr
    planned = actions(keep.stdout)
    index_of(planned, r"^systemctl disable --now hotspot\.service$")
    index_of(planned, r"^rm -f /etc/systemd/system/hotspot\.service$")
    index_of(planned, r"^rm -f /etc/nginx/sites-enabled/hotspot /etc/nginx/sites-available/hotspot$")
    index_of(planned, r"^rm -rf /opt/hotspot /usr/local/lib/hotspot$")
    for kept in ("dropdb", "dropuser", "userdel", "/var/lib/hotspot", "rm -rf /etc/hotspot"):
        assert not any(kept in a for a in planned), f"uninstall without --purge must keep {kept}"

    purge = run_script(UNINSTALL, "--dry-run", "--purge", env=env)
    assert purge.returncode == 0, purge.stderr
    planned = actions(purge.stdout)
    index_of(planned, r"^runuser -u postgres -- dropdb --if-exists hotspot$")
    index_of(planned, r"^runuser -u postgres -- dropuser --if-exists hotspot$")
    index_of(planned, r"^rm -rf /etc/hotspot /var/lib/hotspot$")
    index_of(planned, r"^userdel hotspot$")
    assert log.read_text() == ""


def test_build_dry_run_plans_a_chroot_install(tmp_path: Path, stubs: tuple[dict[str, str], Path]) -> None:
    env, log = stubs
    root = tmp_path / "image-root"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=debian\nVERSION_ID=12\n")
    (root / "usr" / "bin" / "apt-get").touch()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))

    result = run_script(BUILD, "--dry-run", str(root), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    planned = actions(result.stdout)
    copy = index_of(
        planned, rf"^copy_tree {re.escape(str(REPO))} {re.escape(str(root))}/usr/local/src/hotspot$"
    )
    rootfs = index_of(planned, rf"^cp -r .*appliance/rootfs/\. {re.escape(str(root))}/$")
    mount = index_of(planned, rf"^mount -t proc proc {re.escape(str(root))}/proc$")
    chroot = index_of(
        planned,
        rf"^chroot {re.escape(str(root))} .*bash /usr/local/src/hotspot/installer/install\.sh --image "
        r"--source /usr/local/src/hotspot$",
    )
    umount = index_of(planned, rf"^umount --lazy {re.escape(str(root))}/proc$")
    assert copy < rootfs < mount < chroot < umount
    index_of(planned, rf"^rm -f {re.escape(str(root))}/usr/sbin/policy-rc\.d$")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert log.read_text() == ""

    refused = run_script(BUILD, "--dry-run", "/", env=env)
    assert refused.returncode == 1 and "ROOT is /" in refused.stderr
    not_a_root = run_script(BUILD, "--dry-run", str(tmp_path / "stub-bin"), env=env)
    assert not_a_root.returncode == 1 and "does not look like" in not_a_root.stderr


# --- backup.sh -------------------------------------------------------------------------------


def test_backup_dumps_and_keeps_14_days(tmp_path: Path) -> None:
    bin_dir, backups = tmp_path / "bin", tmp_path / "backups"
    bin_dir.mkdir()
    backups.mkdir()
    pg_dump = bin_dir / "pg_dump"
    pg_dump.write_text(
        "#!/bin/sh\nfor a; do case $a in\n"
        "  --file=*) f=${a#--file=};;\n  --dbname=*) d=${a#--dbname=};;\nesac; done\n"
        'echo "dump of $d" > "$f"\n'
    )
    pg_dump.chmod(0o755)
    now = time.time()
    ages = {"hotspot-old.dump": 15, "hotspot-recent.dump": 13, "other-old.dump": 30}
    for name, days in ages.items():
        (backups / name).write_text("x")
        os.utime(backups / name, (now - days * 86400, now - days * 86400))
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOTSPOT_BACKUP_DIR": str(backups),
        "HOTSPOT_BACKUP_DB": "hotspot",
        "HOTSPOT_BACKUP_KEEP_DAYS": "14",
    }
    result = subprocess.run([str(BACKUP)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in backups.iterdir())
    new = [n for n in names if re.fullmatch(r"hotspot-\d{8}-\d{6}\.dump", n)]
    assert len(new) == 1 and (backups / new[0]).read_text() == "dump of hotspot\n"
    assert (backups / new[0]).stat().st_mode & 0o777 == 0o600
    assert "hotspot-old.dump" not in names  # older than 14 days
    assert {"hotspot-recent.dump", "other-old.dump"} <= set(names)  # younger, or not ours
    assert not any(n.endswith(".partial") for n in names)
    assert "deleted old" in result.stdout

    env["HOTSPOT_BACKUP_KEEP_DAYS"] = "0"
    bad = subprocess.run([str(BACKUP)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2


# --- systemd units ---------------------------------------------------------------------------


def unit(path: Path) -> dict[str, list[str]]:
    """'Section.Key' -> values (keys may repeat, as Environment= does)."""
    entries: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.setdefault(f"{section}.{key}", []).append(value)
    return entries


def test_service_unit_runs_the_app_hardened() -> None:
    service = unit(UNIT_DIR / "hotspot.service")
    assert service["Service.User"] == ["hotspot"]
    assert "HOTSPOT_CONFIG=/etc/hotspot/config.yaml" in service["Service.Environment"]
    assert service["Service.ExecStart"] == [
        "/opt/hotspot/venv/bin/hotspot serve --host 127.0.0.1 --port 8000"
    ]
    assert service["Service.Restart"] == ["on-failure"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/hotspot",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
    }.items():
        assert service[f"Service.{key}"] == [value], key
    assert service["Install.WantedBy"] == ["multi-user.target"]

    backup = unit(UNIT_DIR / "hotspot-backup.service")
    assert backup["Service.User"] == ["hotspot"]
    assert backup["Service.ExecStart"] == ["/usr/local/lib/hotspot/backup.sh"]
    assert "HOTSPOT_BACKUP_KEEP_DAYS=14" in backup["Service.Environment"]
    timer = unit(UNIT_DIR / "hotspot-backup.timer")
    assert timer["Timer.Persistent"] == ["true"] and timer["Timer.OnCalendar"]
    assert timer["Install.WantedBy"] == ["timers.target"]
    firstboot = unit(UNIT_DIR / "hotspot-firstboot.service")
    assert firstboot["Unit.ConditionPathExists"] == ["!/var/lib/hotspot/.installed"]
    assert firstboot["Service.ExecStart"] == ["/usr/local/lib/hotspot/install.sh --firstboot"]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    system_units = Path("/usr/lib/systemd/system")
    if not analyze or not (system_units / "multi-user.target").exists():
        pytest.skip("systemd-analyze (and systemd's own units) are not installed")
    # A root holding systemd's units, ours, and stand-ins for the programs they start.
    root = tmp_path / "root"
    shutil.copytree(system_units, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    shutil.copytree(ROOTFS, root, dirs_exist_ok=True)
    for program in ("opt/hotspot/venv/bin/hotspot", "usr/local/lib/hotspot/install.sh"):
        (root / program).parent.mkdir(parents=True, exist_ok=True)
        (root / program).write_text("#!/bin/sh\n")
        (root / program).chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={root}", *(u.name for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "hotspot" not in output, output  # unknown keys etc. are only warnings: none allowed


# --- nginx site ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_conf(tmp_path: Path, site: Path) -> Path:
    (tmp_path / "body").mkdir(exist_ok=True)
    (tmp_path / "proxy").mkdir(exist_ok=True)
    conf = tmp_path / "nginx.conf"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {site};\n}}\n"
    )
    return conf


def nginx_base(nginx: str, tmp_path: Path, conf: Path) -> list[str]:
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    cmd = [nginx, "-p", str(tmp_path), "-c", str(conf)]
    if match and tuple(map(int, match.groups())) >= (1, 19, 5):
        cmd += ["-e", str(tmp_path / "error.log")]
    return cmd


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = tool("nginx")
    conf = nginx_conf(tmp_path, SITE)
    result = subprocess.run(
        [*nginx_base(nginx, tmp_path, conf), "-t", "-q"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


class Upstream(BaseHTTPRequestHandler):
    """Stands in for the app: echoes what nginx forwarded, streams events, accepts uploads."""

    release = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: one\n\n")
            self.wfile.flush()
            self.release.wait(5)
            self.wfile.write(b"data: two\n\n")
            return
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        size = len(self.rfile.read(int(self.headers["Content-Length"])))
        body = str(size).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[int]:
    """nginx running the site (on a free loopback port) in front of the Upstream stand-in."""
    nginx = tool("nginx")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream.daemon_threads = True
    Upstream.release.clear()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    text = SITE.read_text()
    site = (
        text.replace("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;")
        .replace("listen [::]:80 default_server;", "")
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream.server_address[1]};")
    )
    assert site.count(str(port)) == 1 and "8000" not in site, "the site's listen/upstream lines changed"
    (tmp_path / "site").write_text(site)
    conf = nginx_conf(tmp_path, tmp_path / "site")
    proc = subprocess.Popen(
        [*nginx_base(nginx, tmp_path, conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"nginx did not start: {proc.communicate()[1]}")
                time.sleep(0.05)
        yield port
    finally:
        Upstream.release.set()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        upstream.shutdown()
        upstream.server_close()


def test_nginx_forwards_client_and_request_id(proxied: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxied, timeout=5)
    conn.request("GET", "/portal/x?y=1", headers={"Host": "wifi.example", "X-Request-ID": "chosen-by-client"})
    response = conn.getresponse()
    assert response.status == 200
    seen = json.loads(response.read())
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert seen["path"] == "/portal/x?y=1"
    assert headers["host"] == "wifi.example"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"]), "nginx must set its own request id"
    assert response.getheader("Server") == "nginx"  # server_tokens off: no version


def test_nginx_streams_events_unbuffered(proxied: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxied, timeout=3)
    conn.request("GET", "/events")
    response = conn.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    # The upstream holds the stream open after the first event: it arrives only if not buffered.
    assert response.read(len(b"data: one\n\n")) == b"data: one\n\n"
    Upstream.release.set()
    assert response.read() == b"data: two\n\n"


def test_nginx_body_limit_is_2m(proxied: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxied, timeout=5)
    body = b"x" * (1536 * 1024)  # over nginx's default 1m, under ours
    conn.request("POST", "/upload", body=body)
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, str(len(body)).encode())

    conn = http.client.HTTPConnection("127.0.0.1", proxied, timeout=5)
    conn.putrequest("POST", "/upload")
    conn.putheader("Content-Length", str(3 * 1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413


# --- config template -------------------------------------------------------------------------


def test_config_template_is_a_valid_config(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    placeholders = set(re.findall(r"@@[A-Z_]+@@", text))
    assert placeholders == {"@@SECRETS_DIR@@", "@@WORKERS@@", "@@REDIS_URL@@"}
    installer = INSTALL.read_text()
    assert all(f"s|{p}|" in installer for p in placeholders), "install.sh must fill every placeholder"
    assert "data_dir: /var/lib/hotspot\n" in text

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "database_url").write_text("postgresql://hotspot:pw@127.0.0.1:5432/hotspot\n")
    (secrets / "secret_key").write_text("k" * 64 + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        text.replace("@@SECRETS_DIR@@", str(secrets))
        .replace("@@WORKERS@@", "3")
        .replace("@@REDIS_URL@@", "redis://127.0.0.1:6379/0")
    )
    settings = load_settings(config, env={})
    assert str(settings.data_dir) == "/var/lib/hotspot"
    assert settings.database_url == "postgresql://hotspot:pw@127.0.0.1:5432/hotspot"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.security.secret_key is not None
    assert settings.security.secret_key.get_secret_value() == "k" * 64
    assert (settings.server.host, settings.server.port, settings.server.workers) == ("127.0.0.1", 8000, 3)
