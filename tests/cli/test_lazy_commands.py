"""A command line imports only the module of the command it runs, and
``kpitree --help`` none (nor rich): the command list comes from
``command_index.json``, which must match the registered commands and print
exactly what the built commands would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kpitree.cli.lazy import INDEX

_MODULES_AFTER = """
import contextlib, io, json, sys
from kpitree.cli import app
from kpitree.cli.output import run_app
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = run_app(app, sys.argv[1:])
if {full}:
    from kpitree.cli.application import load_all_commands
    load_all_commands()
    again = io.StringIO()
    with contextlib.redirect_stdout(again):
        run_app(app, sys.argv[1:])
    out = again
loaded = sorted(m for m in sys.modules if m.startswith("kpitree.cli.commands_"))
rich = sorted(m for m in sys.modules if m == "rich" or m.startswith("rich."))
print(json.dumps({{"code": code, "help": out.getvalue(), "loaded": loaded, "rich": rich}}))
"""


def _run(*args: str, full: bool = False) -> dict[str, object]:
    env = {**os.environ, "COLUMNS": "100", "KPITREE_LANG": "en", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER.format(full=full), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_the_index_lists_the_registered_commands() -> None:
    # In a fresh process: the order of registration is that of a command line's.
    fresh = subprocess.run(
        [sys.executable, "-c", "import sys; from kpitree.cli.lazy import index_text; "
         "sys.stdout.write(index_text())"],
        capture_output=True, text=True, encoding="utf-8", timeout=120, check=True,
    ).stdout  # fmt: skip
    assert INDEX.read_text(encoding="utf-8") == fresh, (
        "src/kpitree/cli/command_index.json is stale: run .venv/bin/python scripts/gen_cli_docs.py"
    )


def test_help_imports_no_command_and_lists_them_as_built_commands_would() -> None:
    lazy = _run("--help")
    assert lazy["code"] == 0 and lazy["loaded"] == [] and lazy["rich"] == []
    built = _run("--help", full=True)
    assert len(built["loaded"]) > 10  # type: ignore[arg-type]
    assert lazy["help"] == built["help"]
    assert "status " in str(lazy["help"]) and "import " in str(lazy["help"])


def test_a_command_imports_its_own_module_only() -> None:
    status = _run("status", "--help")
    assert status["code"] == 0 and "--period" in str(status["help"])
    assert status["loaded"] == ["kpitree.cli.commands_engine"]
    # A group may gather subcommands from several modules: all are imported.
    data = _run("data", "--help")
    assert data["code"] == 0 and "links" in str(data["help"]) and "check" in str(data["help"])


def test_a_mistyped_command_is_still_suggested(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kpitree", "stauts"],
        capture_output=True,
        text=True,
        env={**os.environ, "KPITREE_LANG": "en", "NO_COLOR": "1"},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "Did you mean 'status'?" in proc.stderr
