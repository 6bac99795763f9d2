"""A plain ``kpitree status`` line runs without building the Typer application
(:mod:`kpitree.cli.direct`): it reads the line as Typer would, prints the same
bytes with the same exit status, and leaves every other line to Typer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import direct
from kpitree.cli.direct import STATUS_DEFAULTS, STATUS_OPTIONS, parse_status_line
from kpitree.project import Project

# Lines read the same by both ways, after `kpitree`.
PLAIN = [
    ["status"],
    ["status", "proj"],
    ["status", "proj", "--json"],
    ["status", "--period", "FY2025", "proj", "--by", "department", "--by", "team"],
    ["status", "-p", "2026-Q1", "-b", "rep", "-w", "team=東日本", "--where", "rep="],
    ["status", "--period=FY2025", "--by=team", "--as-of=2026/04/01", "--targets=current"],
    ["status", "--no-compare", "--as-of", "2026-04-01", "--targets", "then", "--json"],
    ["status", "--compare", "--period", ""],
    ["--lang", "ja", "status", "proj"],
    ["--lang=en", "--debug", "status", "--json"],
    ["--debug", "status", "proj", "--where", "a=b=c"],
]
# Lines left to Typer (help, its messages, or forms read otherwise).
OTHER = [
    [],
    ["--help"],
    ["status", "--help"],
    ["status", "-h"],
    ["plan", "proj"],
    ["status", "proj", "other"],
    ["status", ""],
    ["status", "--period"],
    ["status", "--period", "FY2025", "--period", "FY2024"],
    ["status", "--json", "--json"],
    ["status", "--compare", "--no-compare"],
    ["status", "--json=yes"],
    ["status", "-pFY2025"],
    ["status", "--period", "-1"],
    ["status", "--perio", "FY2025"],
    ["status", "--", "proj"],
    ["status", "-"],
    ["status", "--lang", "ja"],
    ["--lang", "xx", "status"],
    ["--lang"],
    ["--lang", "ja", "--lang", "en", "status"],
    ["--version", "status"],
    ["--debug=1", "status"],
]


def test_the_options_are_the_status_commands() -> None:
    import typer.core
    import typer.main

    from kpitree.cli.application import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["status"]
    options: dict[str, tuple[str, Any]] = {}
    defaults = {}
    for param in command.params:
        defaults[param.name] = param.default
        if param.param_type_name == "argument":
            assert param.name == "path"
            continue
        assert not param.envvar, param.name
        is_flag = bool(getattr(param, "is_flag", False))
        multiple = bool(getattr(param, "multiple", False))
        for opt in param.opts:
            takes = True if is_flag else "values" if multiple else "value"
            options[opt] = (str(param.name), takes)
        for opt in param.secondary_opts:
            options[opt] = (str(param.name), False)
    assert options == STATUS_OPTIONS
    assert {k: v for k, v in defaults.items() if k != "path"} == {
        k: v for k, v in STATUS_DEFAULTS.items() if k != "path"
    }
    assert Path(defaults["path"]) == STATUS_DEFAULTS["path"]


def _typer_reads(line: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """What the Typer command passes on for ``line``, with the language and
    debug switch its global options set."""
    from kpitree.cli import state
    from kpitree.cli.application import app
    from kpitree.cli.output import run_app

    got: list[tuple[Any, ...]] = []
    monkeypatch.setattr(direct, "show_status", lambda *args: got.append(args))
    langs: list[str | None] = []
    monkeypatch.setattr("kpitree.i18n.set_lang", lambda lang: langs.append(lang))
    monkeypatch.setattr(state, "debug", False)
    assert run_app(app, line) == 0
    assert len(got) == 1 and len(langs) == 1
    return langs[0], state.debug, got[0]


@pytest.mark.parametrize("line", PLAIN, ids=" ".join)
def test_both_ways_read_a_plain_line_alike(
    line: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    parsed = parse_status_line(line)
    assert parsed is not None
    lang, debug, values = parsed
    assert (lang, debug, tuple(values.values())) == _typer_reads(line, monkeypatch)
    assert list(values) == list(STATUS_DEFAULTS)


@pytest.mark.parametrize("line", OTHER, ids=" ".join)
def test_other_lines_are_left_to_typer(line: list[str]) -> None:
    assert parse_status_line(line) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_project_is_left_to_typer(tmp_path: Path) -> None:
    folder = tmp_path / "closed"
    folder.mkdir(mode=0)
    try:
        assert parse_status_line(["status", str(folder)]) is None
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_current_folder_is_left_to_typer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Typer checks the path argument's default (the current folder) as it
    # checks a given one.
    folder = tmp_path / "closed"
    folder.mkdir(mode=0o300)
    try:
        monkeypatch.chdir(folder)
        assert parse_status_line(["status", "--json"]) is None
    finally:
        folder.chmod(0o755)


# The program in a fresh process: its output, exit status and whether Typer was
# imported; STATUS_VIA_TYPER runs the same line through the Typer application.
_PROGRAM = """
import os, sys
from kpitree import cli
if os.environ.get("STATUS_VIA_TYPER"):
    from kpitree.cli import direct
    direct.run_direct = lambda argv: None
_exit = os._exit
def ended(code):
    sys.stderr.write(f"[typer={'typer' in sys.modules}]")
    sys.stderr.flush()
    _exit(code)
os._exit = ended
try:
    cli.console()
except SystemExit as exc:
    ended(exc.code or 0)
"""


def _program(*args: str | Path, via_typer: bool = False) -> tuple[int, str, str, bool]:
    env = {**os.environ, "KPITREE_LANG": "en", "COLUMNS": "120"}
    env.pop("STATUS_VIA_TYPER", None)
    if via_typer:
        env["STATUS_VIA_TYPER"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    err, _, mark = done.stderr.rpartition("[typer=")
    return done.returncode, done.stdout, err, mark == "True]"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("direct") / "plan"
    Project.init(folder)
    return folder


STATUS = ["--period", "2026-04", "--as-of", "2026-04-15", "--by", "department"]


def test_a_plain_status_prints_the_same_bytes_without_typer(project: Path) -> None:
    for view in (["--json"], []):
        line = ["status", str(project), *STATUS, *view]
        typer_code, typer_out, typer_err, imported = _program(*line, via_typer=True)
        assert (typer_code, typer_err, imported) == (0, "", True)
        code, out, err, imported = _program(*line)
        assert (code, err, imported) == (0, "", False)
        assert out == typer_out
    assert '"node": "revenue"' in typer_out or "Revenue" in typer_out


def test_errors_are_the_same_message_and_status(project: Path, tmp_path: Path) -> None:
    # A missing project, a bad day, a bad filter: kpitree's own messages.
    for line in (
        ["status", str(tmp_path / "missing"), "--json"],
        ["status", str(project), "--as-of", "2026-13-01"],
        ["status", str(project), "--where", "team"],
    ):
        typer_way = _program(*line, via_typer=True)
        direct_way = _program(*line)
        assert typer_way[0] == direct_way[0] == 1
        assert typer_way[1:3] == direct_way[1:3]
        assert "error" in direct_way[2]
    # A usage error goes to Typer as before.
    code, _, err, imported = _program("status", str(project), "--period")
    assert code == 2 and imported and "--period" in err


def test_a_changed_definition_is_read_by_the_next_status(project: Path) -> None:
    line = ["status", str(project), *STATUS, "--json"]
    assert _program(*line)[0] == 0  # the checked definition is kept now
    definition = project / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    assert "\nname: " in text
    changed = text.replace("\nname: ", "\nname: Changed plan ", 1)
    definition.write_text(changed, encoding="utf-8")
    code, out, _, _ = _program(*line)
    assert code == 0
    assert '"project": "Changed plan ' in out
    definition.write_text(text, encoding="utf-8")
    code, out, _, _ = _program(*line)
    assert code == 0 and '"project": "Changed plan ' not in out


def test_a_path_that_cannot_be_looked_up_is_left_to_typer(tmp_path: Path) -> None:
    # A name longer than the file system allows: looking it up fails, and not
    # as a missing file; Typer reads the line and kpitree answers as it does.
    line = ["status", str(tmp_path / ("a" * 300)), "--json"]
    assert parse_status_line(line) is None
    assert _program(*line) == _program(*line, via_typer=True)
