"""Write docs/cli.md, the command line reference, from the ``--help`` of every
``kpitree`` command (run in a fresh process, 100 columns wide, English), and
src/kpitree/cli/command_index.json, the list ``kpitree --help`` prints without
importing the commands (kpitree.cli.lazy).

    .venv/bin/python scripts/gen_cli_docs.py           # rewrite docs/cli.md
    .venv/bin/python scripts/gen_cli_docs.py --check   # exit 1 when it is out of date

``tests/test_cli_docs.py`` fails when the file is stale, so a new or changed
command is documented in the same change.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "cli.md"
REGENERATE = ".venv/bin/python scripts/gen_cli_docs.py"
WIDTH = 100

# Variables that make rich/typer colour or resize the help whatever the terminal.
_UNSTABLE_ENV = (
    "FORCE_COLOR",
    "PY_COLORS",
    "GITHUB_ACTIONS",
    "TERMINAL_WIDTH",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "_TYPER_FORCE_DISABLE_TERMINAL",
    "LINES",
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CHILD = "--print-help-texts"  # internal: the fresh process that renders the help


def command_paths() -> list[tuple[str, ...]]:
    """Every visible command of the app, groups before their subcommands, in the
    order they are registered; ``()`` is ``kpitree`` itself."""
    import typer.main

    from kpitree.cli import app

    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            if not getattr(sub, "hidden", False):
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths


def _help_in_this_process(path: tuple[str, ...]) -> str:
    from kpitree.cli import app
    from kpitree.cli.output import run_app

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_app(app, [*path, "--help"])
    if code != 0:
        raise RuntimeError(f"kpitree {' '.join(path)} --help exited {code}")
    lines = [line.rstrip() for line in _ANSI.sub("", out.getvalue()).splitlines()]
    return "\n".join(lines).strip("\n")


def help_texts() -> dict[tuple[str, ...], str]:
    """``kpitree <path> --help`` of every command, as plain text, rendered in one
    fresh process with a fixed width, language and no colour."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSTABLE_ENV}
    env.update(
        COLUMNS=str(WIDTH),
        KPITREE_LANG="en",
        NO_COLOR="1",
        PYTHONIOENCODING="utf-8",
        TERM="dumb",
    )
    proc = subprocess.run(
        [sys.executable, __file__, _CHILD],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"rendering the --help texts failed:\n{proc.stderr}")
    return {tuple(entry["path"]): entry["help"] for entry in json.loads(proc.stdout)}


def render() -> str:
    """The whole of docs/cli.md."""
    helps = help_texts()
    parts = [
        "# Command line reference",
        "",
        "<!-- Generated from `kpitree … --help` by scripts/gen_cli_docs.py; do not edit. -->",
        "",
        "Every command of `kpitree`, as printed by `--help`. Global options (`--lang`,",
        "`--debug`) go before the command: `kpitree --lang ja check`.",
        f"Regenerate after changing a command: `{REGENERATE}`.",
    ]
    for path, text in helps.items():
        parts += ["", f"## `{' '.join(('kpitree', *path))}`", "", "```text", text, "```"]
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if _CHILD in argv:
        entries = [{"path": p, "help": _help_in_this_process(p)} for p in command_paths()]
        sys.stdout.write(json.dumps(entries, ensure_ascii=False))
        return 0
    from kpitree.cli.lazy import INDEX, index_text

    # The command index first: `kpitree --help` lists the commands from it.
    index = index_text()
    if "--check" not in argv:
        INDEX.write_text(index, encoding="utf-8")
        print(f"wrote {INDEX.relative_to(ROOT / 'src')}")
    text = render()
    if "--check" in argv:
        current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
        stale = [
            str(path.relative_to(ROOT))
            for path, now, expected in (
                (DOCS, current, text),
                (INDEX, INDEX.read_text(encoding="utf-8"), index),
            )
            if now != expected
        ]
        if stale:
            print(f"{', '.join(stale)} out of date; run: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
