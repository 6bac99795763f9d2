"""Commands imported when they run: the top-level group of ``kpitree`` knows
every command's name and one-line help from ``command_index.json`` beside this
module (written by ``scripts/gen_cli_docs.py``), and builds a command (imports
its module, reads its signature) only when it is looked up. ``kpitree status …``
thus imports the status command's module alone, and ``kpitree --help`` none.

A group (``kpitree data …``) may gather commands from several modules: looking
one up imports every command module. So does anything that walks all commands
(the generated docs), since iterating the commands builds each.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from functools import cache
from gettext import gettext as _
from pathlib import Path
from typing import Any

from typer import _click
from typer.core import TyperGroup

__all__ = ["INDEX", "LazyGroup", "command_index", "index_text"]

INDEX = Path(__file__).with_name("command_index.json")
"""Every top-level command: name -> [module, "command" or "group", the help's
first paragraph, hidden], in the order of ``kpitree --help``."""


@cache
def command_index() -> dict[str, tuple[str, str, str, bool]]:
    """The commands of :data:`INDEX`."""
    import json

    data = json.loads(INDEX.read_text(encoding="utf-8"))
    return {name: (e[0], e[1], e[2], bool(e[3])) for name, e in data.items()}


class _Commands(MutableMapping[str, _click.Command]):
    """The top-level commands: built ones, and the others by name, built when read."""

    def __init__(self, built: MutableMapping[str, _click.Command]) -> None:
        self.built = dict(built)
        self.groups_built: set[int] = set()

    def _load(self, name: str) -> None:
        from kpitree.cli.application import load_all_commands

        known = command_index()

        entry = known.get(name)
        if entry is None or entry[1] == "group":
            # A group's subcommands may live in several modules; a command not in
            # the index yet (added without regenerating it) is found all the same.
            load_all_commands()
        else:
            importlib.import_module(f"kpitree.cli.{entry[0]}")
        self._build_registered()

    def _build_registered(self) -> None:
        """Build the commands registered on the app that are not built yet."""
        import typer.main

        from kpitree.cli.application import app

        settings: dict[str, Any] = {
            "pretty_exceptions_short": app.pretty_exceptions_short,
            "rich_markup_mode": app.rich_markup_mode,
        }
        for info in app.registered_commands:
            assert info.callback is not None
            name = info.name or typer.main.get_command_name(info.callback.__name__)
            if name not in self.built:
                self.built[name] = typer.main.get_command_from_info(info, **settings)
        for group_info in app.registered_groups:
            if id(group_info) in self.groups_built:
                continue
            group = typer.main.get_group_from_info(
                group_info, suggest_commands=app.suggest_commands, **settings
            )
            self.groups_built.add(id(group_info))
            if group.name:
                self.built.setdefault(group.name, group)
            else:  # `add_typer` without a name: its commands are top-level ones
                for sub, command in group.commands.items():
                    self.built.setdefault(sub, command)

    def names(self) -> list[str]:
        known = command_index()

        return [*known, *(n for n in self.built if n not in known)]

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self.built:
            self._load(name)
        return self.built[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        known = command_index()

        return name in self.built or name in known


class LazyGroup(TyperGroup):
    """The ``kpitree`` group: commands built when looked up (see the module)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        commands = self.commands
        return commands.names() if isinstance(commands, _Commands) else super().list_commands(ctx)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        try:
            return self.commands[cmd_name]
        except KeyError:
            return None

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The command list from the index, without building a command."""
        known = command_index()

        commands = self.commands
        built = commands.built if isinstance(commands, _Commands) else commands
        rows: list[tuple[str, str | None]] = []
        for name in self.list_commands(ctx):
            command = built.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, None))
            elif name in known and not known[name][3]:
                rows.append((name, known[name][2]))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        lines = []
        for name, short in rows:
            if short is None:
                lines.append((name, built[name].get_short_help_str(limit)))
            else:
                lines.append((name, _click.utils.make_default_short_help(short, limit)))
        with formatter.section(_("Commands")):
            formatter.write_dl(lines)


def index_text() -> str:
    """The text of :data:`INDEX` for the commands as registered now, every
    command module imported (``scripts/gen_cli_docs.py`` writes it; a test
    compares)."""
    import json

    import typer.main

    from kpitree.cli.application import app, load_all_commands

    load_all_commands()
    # Which module registered each top-level command: the one defining its callback.
    module_of: dict[str, str] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        module_of[name] = info.callback.__module__
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    commands = group.commands
    built = commands.built if isinstance(commands, _Commands) else commands
    if isinstance(commands, _Commands):
        commands._build_registered()
    index: dict[str, list[Any]] = {}
    for name, command in built.items():
        kind = "group" if isinstance(command, TyperGroup) else "command"
        module = module_of.get(name, "")
        if kind == "command" and not module.startswith("kpitree.cli."):
            raise RuntimeError(f"no command module registers {name!r}")
        if command.deprecated:
            raise RuntimeError(f"{name!r} is deprecated: the index does not say so")
        text = command.short_help or (command.help or "").split("\n\n")[0]
        entry = [module.removeprefix("kpitree.cli."), kind, " ".join(text.split()), command.hidden]
        index[name] = entry
    return json.dumps(index, ensure_ascii=False, indent=1) + "\n"
