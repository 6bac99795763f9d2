"""Running the ``kpitree`` command in tests: in-process through
:func:`kpitree.cli.main` (fast, most tests) or as a real process through
``python -m kpitree`` (end to end: entry point, exit code, tracebacks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main, render

FIXTURES = Path(__file__).parent.parent / "fixtures"
ISSUE_EXAMPLE = FIXTURES / "issue_example"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``cli("plan", path, lang="en")`` runs the command in this process."""
    # Wide enough that rich never wraps a tree line or truncates a table cell.
    monkeypatch.setattr(render.console, "width", 200)

    def run(*args: str | Path, lang: str = "en") -> CliResult:
        monkeypatch.setenv("KPITREE_LANG", lang)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        else:  # pragma: no cover - main always exits
            raise AssertionError("kpitree.cli.main returned without exiting")
        captured = capsys.readouterr()
        assert code is None or isinstance(code, int)
        return CliResult(code or 0, captured.out, captured.err)

    return run


@pytest.fixture
def kpitree_process() -> Cli:
    """``kpitree_process("check", path, lang="en")`` runs ``python -m kpitree``."""

    def run(*args: str | Path, lang: str = "en", cwd: Path | None = None) -> CliResult:
        env = {**os.environ, "KPITREE_LANG": lang, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
        proc = subprocess.run(
            [sys.executable, "-m", "kpitree", *map(str, args)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=cwd,
            timeout=120,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def the_model(tmp_path: Path, cli: Cli) -> Path:
    """A project folder created by ``kpitree init --template the-model``."""
    folder = tmp_path / "the-model"
    result = cli("init", folder, "--template", "the-model")
    assert result.code == 0, result.err
    return folder


@pytest.fixture
def issue_example(tmp_path: Path) -> Path:
    """A copy of the definition quoted in the [core] issue (tests may add files)."""
    folder = tmp_path / "issue_example"
    shutil.copytree(ISSUE_EXAMPLE, folder)
    return folder


@pytest.fixture
def write_definition(tmp_path: Path) -> Callable[[str], Path]:
    """Write ``kpitree.yaml`` into a fresh folder and return the file."""
    count = 0

    def write(text: str) -> Path:
        nonlocal count
        count += 1
        folder = tmp_path / f"project{count}"
        folder.mkdir()
        file = folder / "kpitree.yaml"
        file.write_text(text, encoding="utf-8")
        return file

    return write
