"""The wheel holds everything the app needs, and a plain (non-editable) install of it runs.

The editable install used for development reads web/ from the checkout and plugins from
plugins/; the wheel must carry both inside itself. Both layouts are checked here.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import hotspot
from hotspot.http.assets import web_dir

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
WHEEL_PACKAGES: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
ENTRY_POINTS: dict[str, str] = PYPROJECT["project"].get("entry-points", {}).get("hotspot.plugins", {})
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _plugin_dirs() -> list[Path]:
    """Every plugin package in the checkout: plugins/hotspot_<name>/__init__.py."""
    return sorted(p for p in (ROOT / "plugins").iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def _source_files(folder: Path, suffixes: tuple[str, ...] | None = None) -> set[Path]:
    return {
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not SKIP_PARTS.intersection(p.parts)
        and not p.name.endswith((".pyc", ".pyo"))
        and (suffixes is None or p.suffix in suffixes)
    }


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: nothing that points back into the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HOTSPOT_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 60) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    return proc.stdout


# --- the editable install (this venv) -------------------------------------------------------


def test_plugin_folders_are_registered_in_pyproject() -> None:
    """Adding plugins/hotspot_<name>/ without registering it in pyproject.toml fails here."""
    plugin_dirs = _plugin_dirs()
    assert plugin_dirs, "no plugin packages under plugins/"
    for folder in plugin_dirs:
        package = folder.name
        assert package.startswith("hotspot_"), f"plugins/{package} must be named hotspot_<name>"
        name = package.removeprefix("hotspot_")
        assert f"plugins/{package}" in WHEEL_PACKAGES, (
            f"plugins/{package} is missing from [tool.hatch.build.targets.wheel] packages in pyproject.toml"
        )
        assert ENTRY_POINTS.get(name, "").split(":")[0] == package, (
            f'pyproject.toml needs {name} = "{package}" under [project.entry-points."hotspot.plugins"]'
        )
    for entry in WHEEL_PACKAGES:
        assert (ROOT / entry / "__init__.py").is_file(), f"wheel package {entry} does not exist"
    assert "hotspot" in WHEEL_PACKAGES


def test_editable_install_reads_the_checkout() -> None:
    assert Path(hotspot.__file__).resolve().parent == ROOT / "hotspot", "tests must run on the checkout"
    assert web_dir() == (ROOT / "web").resolve()
    assert (web_dir() / "templates").is_dir() and (web_dir() / "static").is_dir()


def test_editable_install_has_every_plugin_entry_point() -> None:
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="hotspot.plugins")}
    for folder in _plugin_dirs():
        name = folder.name.removeprefix("hotspot_")
        assert installed.get(name, "").split(":")[0] == folder.name, (
            f"entry point {name!r} -> {folder.name} is not installed; after registering it in "
            "pyproject.toml, reinstall the project: pip install -e '.[dev]'"
        )


# --- the wheel --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build the wheel from the checkout once; remember which source files existed before."""
    before = {
        "py": _source_files(ROOT / "hotspot", (".py",))
        | {f for d in _plugin_dirs() for f in _source_files(d, (".py",))},
        "web": _source_files(ROOT / "web" / "templates") | _source_files(ROOT / "web" / "static"),
    }
    outdir = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir],
        cwd=ROOT,
        env=_clean_env(),
        timeout=120,
    )
    (path,) = outdir.glob("hotspot-*.whl")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        dist_info = f"hotspot-{hotspot.__version__}.dist-info"
        entry_points = (
            zf.read(f"{dist_info}/entry_points.txt").decode()
            if (f"{dist_info}/entry_points.txt" in names)
            else ""
        )
    return {"path": path, "names": names, "entry_points": entry_points, "before": before}


def _wheel_name(source: Path) -> str:
    """Where a checkout file lands in the wheel (web/ is shipped as hotspot/web/)."""
    rel = source.relative_to(ROOT)
    if rel.parts[0] == "web":
        return "hotspot/" + rel.as_posix()
    if rel.parts[0] == "plugins":
        return Path(*rel.parts[1:]).as_posix()
    return rel.as_posix()


@pytest.mark.slow
def test_wheel_contents(wheel: dict[str, Any]) -> None:
    names: set[str] = wheel["names"]
    assert "hotspot/__init__.py" in names
    assert "hotspot/cli.py" in names and "hotspot/app.py" in names
    for entry in WHEEL_PACKAGES:
        package = Path(entry).name
        assert f"{package}/__init__.py" in names, f"{entry} is not in the wheel"
    for folder in _plugin_dirs():
        assert f"{folder.name}/__init__.py" in names, f"plugin {folder.name} is not in the wheel"
    migrations = [
        n
        for n in names
        if n.startswith("hotspot/jobs/piccolo_migrations/") and n.endswith(".py") and "__init__" not in n
    ]
    assert migrations, "the jobs migrations are not in the wheel"
    assert "hotspot/web/templates/base.html" in names
    assert "hotspot/web/router/login.html" in names  # the page the owner uploads to the router
    vendor = [n for n in names if n.startswith("hotspot/web/static/vendor/")]
    assert any(n.endswith(".css") for n in vendor), f"no vendored css in the wheel: {vendor}"
    assert any(n.endswith(".js") for n in vendor), f"no vendored js in the wheel: {vendor}"
    assert "hotspot/web/static/vendor/bootstrap/bootstrap.min.css" in names

    # Every source, template and static file that existed when the build started is shipped.
    shipped_from = {*wheel["before"]["py"], *wheel["before"]["web"]}
    missing = sorted(_wheel_name(f) for f in shipped_from if f.exists() and _wheel_name(f) not in names)
    assert not missing, f"files missing from the wheel: {missing}"
    junk = sorted(
        n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or n.startswith("tests/")
    )
    assert not junk, f"the wheel carries files it should not: {junk}"
    web_extra = sorted(
        n
        for n in names
        if n.startswith("hotspot/web/")
        and not n.startswith(("hotspot/web/templates/", "hotspot/web/static/", "hotspot/web/router/"))
    )
    assert not web_extra, f"only web/templates, web/static and web/router belong in the wheel: {web_extra}"


@pytest.mark.slow
def test_wheel_entry_points(wheel: dict[str, Any]) -> None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(wheel["entry_points"])
    assert parser.has_section("hotspot.plugins"), wheel["entry_points"]
    assert dict(parser["hotspot.plugins"]) == ENTRY_POINTS
    for folder in _plugin_dirs():
        name = folder.name.removeprefix("hotspot_")
        assert parser["hotspot.plugins"].get(name, "").split(":")[0] == folder.name
    assert parser["console_scripts"]["hotspot"] == "hotspot.cli:main"


# --- a plain install of the wheel in a fresh venv ------------------------------------------------


@pytest.fixture(scope="module")
def wheel_venv(wheel: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A new venv with the wheel installed, borrowing this venv's third-party packages.

    The wheel goes in first (with this venv's pip), then `_deps.pth` adds this venv's
    site-packages as a plain path: the editable project's .pth files there are not executed, so
    `hotspot` must come from the new venv.
    """
    base = tmp_path_factory.mktemp("venv")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base, env=_clean_env())
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    _run(
        [*pip, "install", "--quiet", "--no-deps", "--no-index", wheel["path"]],
        cwd=base,
        env=_clean_env(),
        timeout=120,
    )
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=base,
            env=_clean_env(),
        ).strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)), encoding="utf-8")
    work = base / "work"
    work.mkdir()
    return {"venv": venv, "python": python, "site": site, "work": work, "data": base / "data"}


INSTALLED_CHECK = textwrap.dedent(
    """
    import importlib.metadata, json, sys
    from pathlib import Path

    site, data_dir = Path(sys.argv[1]).resolve(), sys.argv[2]

    def inside(path):
        return Path(path).resolve().is_relative_to(site)

    import hotspot, hotspot_apprise
    import hotspot.http.assets
    from hotspot.app import create_app
    from hotspot.config import load_settings
    from hotspot.plugins import discover
    from litestar.testing import TestClient

    report = {
        "hotspot": hotspot.__file__,
        "hotspot_apprise": hotspot_apprise.__file__,
        "web_dir": str(hotspot.http.assets.web_dir()),
        "dist": str(importlib.metadata.distribution("hotspot").locate_file("")),
    }
    installed = discover()
    report["plugins"] = {name: p.error for name, p in installed.items()}
    report["plugin_files"] = {
        name: getattr(p.module, "__file__", None) for name, p in installed.items()
    }
    assert inside(hotspot.__file__), report
    assert inside(hotspot_apprise.__file__), report
    assert inside(report["web_dir"]), report

    app = create_app(load_settings(None, env={"HOTSPOT_DATA_DIR": data_dir}))
    with TestClient(app) as client:
        health = client.get("/healthz")
        home = client.get("/")
        css = client.get("/static/vendor/bootstrap/bootstrap.min.css")
    report["healthz"] = [health.status_code, health.json()]
    report["home"] = [home.status_code, home.headers.get("content-type", ""), home.text]
    report["css"] = [css.status_code, css.headers.get("content-type", ""), len(css.content)]
    print("REPORT " + json.dumps(report))
    """
)


@pytest.mark.slow
def test_installed_wheel_runs(wheel_venv: dict[str, Path]) -> None:
    script = wheel_venv["work"] / "check_installed.py"
    script.write_text(INSTALLED_CHECK, encoding="utf-8")
    out = _run(
        [wheel_venv["python"], "-I", script, wheel_venv["site"], wheel_venv["data"]],
        cwd=wheel_venv["work"],
        env=_clean_env(),
        timeout=90,
    )
    (line,) = [x for x in out.splitlines() if x.startswith("REPORT ")]
    report = json.loads(line.removeprefix("REPORT "))
    site = wheel_venv["site"].resolve()
    assert Path(report["hotspot"]).resolve().is_relative_to(site), report["hotspot"]
    assert Path(report["web_dir"]).resolve() == site / "hotspot" / "web"
    assert Path(report["dist"]).resolve() == site

    expected = {f.name.removeprefix("hotspot_") for f in _plugin_dirs()}
    assert expected <= set(report["plugins"]), report["plugins"]
    broken = {name: error for name, error in report["plugins"].items() if error}
    assert not broken, f"plugins fail to import from the wheel: {broken}"
    for name in expected:
        assert Path(report["plugin_files"][name]).resolve().is_relative_to(site)

    status, body = report["healthz"]
    assert status == 200 and body["status"] == "ok", body
    status, content_type, html = report["home"]
    assert status == 200 and content_type.startswith("text/html") and "Hotspot" in html
    status, content_type, size = report["css"]
    assert status == 200 and content_type.startswith("text/css") and size > 1000


@pytest.mark.slow
def test_installed_console_script(wheel_venv: dict[str, Path]) -> None:
    exe = wheel_venv["venv"] / "bin" / "hotspot"
    assert exe.is_file(), "the wheel does not install the hotspot console script"
    env = _clean_env(HOTSPOT_DATA_DIR=str(wheel_venv["data"]))
    listing = _run([exe, "plugins"], cwd=wheel_venv["work"], env=env)
    for folder in _plugin_dirs():
        name = folder.name.removeprefix("hotspot_")
        row = next((line for line in listing.splitlines() if line.split()[:1] == [name]), None)
        assert row is not None, f"`hotspot plugins` does not list {name}:\n{listing}"
        assert "broken" not in row.split(), row
    check = _run([exe, "config", "check"], cwd=wheel_venv["work"], env=env)
    assert "configuration OK" in check
    assert str(wheel_venv["data"]) in check
