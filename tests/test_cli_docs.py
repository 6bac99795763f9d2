"""docs/cli.md is generated from ``--help`` and must match the commands."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import typer.main

from kpitree.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "cli.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts/gen_cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
STALE = f"docs/cli.md is out of date; regenerate it with: {gen.REGENERATE}"


def _registered(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        if not getattr(sub, "hidden", False):
            found += _registered(sub, (*path, name))
    return found


def test_every_registered_command_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    commands = _registered(typer.main.get_command(app))
    assert {"init", "check", "plan", "tree", "explain", "schema", "demo"} <= {
        path[0] for path in commands if path
    }
    missing = [
        " ".join(("kpitree", *path))
        for path in commands
        if f"## `{' '.join(('kpitree', *path))}`" not in docs
    ]
    assert not missing, f"{', '.join(missing)} missing from docs/cli.md. {STALE}"
    assert gen.command_paths() == commands


def test_cli_docs_are_up_to_date() -> None:
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    expected = gen.render()
    if current != expected:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/cli.md",
                "regenerated",
                n=1,
            )
        )
        pytest.fail(f"{STALE}\n{diff[:4000]}", pytrace=False)


def test_docs_show_the_options_people_need() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for text in ("Usage: kpitree plan [OPTIONS] [path]", "--fiscal-year", "--scenario", "--lang"):
        assert text in docs
    assert "\x1b[" not in docs
    assert all(len(line) <= gen.WIDTH for line in docs.splitlines() if line.startswith("│"))
