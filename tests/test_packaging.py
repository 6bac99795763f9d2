"""kpitree installs the usual ways: every compiled dependency has wheels for
Python 3.11-3.13; the wheel holds the front-end assets and, installed in a clean
virtual environment, runs the demo and serves the dashboard; the Dockerfile's
steps are the ones the README documents."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13")
# The commands the README documents for a locked install from a wheel; the
# Dockerfile runs them and the slow test below runs them in a clean venv.
EXPORT = "uv export --frozen --no-dev --no-emit-project --output-file dist/requirements.txt"
BUILD = "uv build --wheel --out-dir dist"
INSTALL_LOCKED = "pip install -r dist/requirements.txt"
INSTALL_WHEEL = "pip install --no-deps dist/kpitree-*.whl"


def test_requires_python_covers_3_11_to_3_13() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    assert lock["requires-python"] == ">=3.11, <3.14"


def _tag_fits(tags: str, version: str) -> bool:
    """Whether a wheel's python/abi tags install on CPython ``version`` (3.X)."""
    python, abi = tags.split("-")[:2]
    minor = int(version.split(".")[1])
    for tag in python.split("."):
        if tag in ("py3", "py2.py3") or tag == f"cp3{minor}":
            return True
        found = re.fullmatch(r"cp3(\d+)", tag)
        if found and "abi3" in abi and int(found.group(1)) <= minor:
            return True
    return False


def test_every_locked_package_installs_on_linux_for_each_supported_python() -> None:
    """A package whose wheels are built per Python version has a Linux x86-64
    wheel for 3.11, 3.12 and 3.13 (or is pure Python, or has an sdist only)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    missing = []
    for package in lock["package"]:
        wheels = [w["url"].rsplit("/", 1)[-1] for w in package.get("wheels", [])]
        linux = [
            w for w in wheels if ("manylinux" in w and "x86_64" in w) or w.endswith("-any.whl")
        ]
        if not linux:
            continue  # a Windows/macOS-only package, or built from its sdist
        for version in PYTHONS:
            fits = any(_tag_fits(re.sub(r"^.*?-\d[^-]*-", "", w), version) for w in linux)
            if not fits:
                missing.append(f"{package['name']} {package['version']} for Python {version}")
    assert not missing, "\n".join(missing)


def test_the_dockerfile_runs_the_steps_the_readme_documents() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "docker build -t kpitree ." in readme
    flat = re.sub(r"\s+", " ", docker.replace("\\\n", " "))
    for command in (EXPORT, BUILD):
        assert command in flat, command
    for command in (EXPORT, BUILD, INSTALL_LOCKED, INSTALL_WHEEL):
        assert command in readme, command
    assert "pip install --no-cache-dir -r /tmp/dist/requirements.txt" in docker
    assert "pip install --no-cache-dir --no-deps /tmp/dist/kpitree-*.whl" in docker
    serve = re.search(r'^CMD \["serve", "/project", (.*)\]$', docker, re.MULTILINE)
    assert serve is not None
    flags = " ".join(part.strip('" ') for part in serve.group(1).split(","))
    assert f"serve /project {flags}" in readme


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(out)],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    subprocess.run(
        [_uv(), "export", "--frozen", "--no-dev", "--no-emit-project",
         "--output-file", str(out / "requirements.txt")],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    [built] = out.glob("kpitree-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_the_front_end_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "kpitree/web/static/vendor/echarts.min.js",
        "kpitree/web/static/vendor/htmx.min.js",
        "kpitree/web/static/charts.js",
        "kpitree/web/static/kpitree.css",
        "kpitree/web/templates/base.html",
        "kpitree/web/templates/kiosk.html",
        "kpitree/i18n/catalogs/ja/web.json",
        "kpitree/i18n/catalogs/en/web.json",
    ):
        assert needed in names, needed
    assert any(n.startswith("kpitree/templates/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def _interpreter(version: str) -> str | None:
    """A working CPython ``version`` here: this one, one on PATH, or one that
    pyenv installed (a pyenv shim of a version it lacks does not count)."""
    if sys.version_info[:2] == tuple(int(p) for p in version.split(".")):
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{version}.*/bin/python{version}"))
    for found in filter(None, candidates):
        check = subprocess.run([found, "--version"], capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.startswith(f"Python {version}."):
            return found
    return None


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_the_wheel_installs_in_a_clean_venv_and_runs_the_demo(
    wheel: Path, tmp_path: Path, version: str
) -> None:
    """The README's locked install (the lock file's versions, then the wheel
    without its dependencies) into a fresh venv of each Python found here; uv
    stands in for pip to use its download cache (same requirements, same wheel)."""
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter on this machine")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    for args in (
        ["-r", str(wheel.parent / "requirements.txt")],
        ["--no-deps", str(wheel)],
    ):
        subprocess.run(
            [_uv(), "pip", "install", "--python", target, "--compile-bytecode", *args],
            check=True, capture_output=True, timeout=900, env=env,
        )  # fmt: skip
    kpitree = venv / "bin" / "kpitree"
    demo = tmp_path / "demo"
    clean = {**env, "KPITREE_LANG": "en", "PYTHONPATH": ""}
    made = subprocess.run(
        [str(kpitree), "demo", str(demo), "--size", "tiny", "--no-serve"],
        capture_output=True, text=True, timeout=900, env=clean, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (demo / "kpitree.yaml").exists()
    # The installed package, not the checkout, served the dashboard's assets.
    where = subprocess.run(
        [target, "-c", "import kpitree.web, sys; print(kpitree.web.__file__)"],
        capture_output=True, text=True, check=True, env=clean, cwd=tmp_path,
    )  # fmt: skip
    assert str(venv) in where.stdout
    _serves_assets(kpitree, demo, clean)


def _serves_assets(kpitree: Path, project: Path, env: dict[str, str]) -> None:
    import time

    import httpx

    server = subprocess.Popen(
        [str(kpitree), "serve", str(project), "--port", "0", "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = None
        deadline = time.monotonic() + 120
        for line in server.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                url = found.group(0)
                break
            assert time.monotonic() < deadline
        assert url is not None
        for path in ("/static/vendor/echarts.min.js", "/static/kpitree.css", "/"):
            answer = None
            while time.monotonic() < deadline:
                try:
                    answer = httpx.get(url + path, timeout=60)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert answer is not None and answer.status_code == 200, path
    finally:
        server.terminate()
        server.wait(timeout=30)
