"""The planted company (see :mod:`tests.review.planted`), built once per session."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .planted import build_planted


@pytest.fixture(scope="session")
def planted_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_planted(tmp_path_factory.mktemp("planted") / "project")


@pytest.fixture
def planted(planted_source: Path, tmp_path: Path) -> Path:
    """A fresh copy (its own app database) for each test."""
    return Path(
        shutil.copytree(
            planted_source, tmp_path / "project", ignore=shutil.ignore_patterns("app.sqlite*")
        )
    )


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``cli("actions", "list", lang="en")`` runs kpitree in this process."""
    from kpitree.cli import main

    def run(*args: str | Path, lang: str = "en") -> Run:
        monkeypatch.setenv("KPITREE_LANG", lang)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Run(int(code or 0), captured.out, captured.err)

    return run
