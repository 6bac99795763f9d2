"""What the CLI, the web app and the review pack do with actions, on a
project (anything with ``tree``, ``path``, ``today()`` and ``status()``, such
as :class:`kpitree.project.Project`; this layer never imports the façade)."""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kpitree.review.actions import Action, ActionStore, NewAction
from kpitree.review.outcome import Outcome, measure_action

if TYPE_CHECKING:
    from kpitree.compute.status import StatusResult
    from kpitree.definition.tree import Tree

__all__ = [
    "ActionProject",
    "add_action",
    "close_action",
    "default_author",
    "open_store",
    "outcomes",
]


class ActionProject(Protocol):
    tree: Tree
    path: Path

    def today(self) -> dt.date: ...

    def status(self, *args: Any, **kwargs: Any) -> StatusResult: ...


def open_store(project: ActionProject) -> ActionStore:
    units = {n.id: n.unit_name for n in project.tree.nodes.values()}
    return ActionStore(project.path, units)


def default_author(folder: Path) -> str:
    """Who is making a change: git's ``user.name`` where the folder is in a
    repository, else the login name."""
    git = shutil.which("git")
    if git is not None:
        try:
            found = subprocess.run(
                [git, "-C", str(folder), "config", "user.name"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if found.returncode == 0 and found.stdout.strip():
                return found.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def add_action(project: ActionProject, new: NewAction, author: str) -> Action:
    """Check the action against the tree and store it."""
    with open_store(project) as store:
        return store.add(new.checked(store.units, project.today()), author)


def outcomes(
    project: ActionProject, actions: Sequence[Action], as_of: dt.date | None = None
) -> dict[int, Outcome]:
    """Each action's outcome as of ``as_of`` (default today)."""
    day = as_of or project.today()
    return {a.id: measure_action(a, project.tree, project.status, day) for a in actions}


def close_action(
    project: ActionProject,
    action_id: int,
    author: str,
    note: str | None = None,
    as_of: dt.date | None = None,
) -> tuple[Action, Outcome]:
    """Mark an action done, keeping its outcome as measured now in its history."""
    with open_store(project) as store:
        action = store.get(action_id)
        outcome = measure_action(action, project.tree, project.status, as_of or project.today())
        return store.done(action_id, author, note, outcome.to_json()), outcome
