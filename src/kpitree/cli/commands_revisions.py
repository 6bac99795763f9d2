"""``kpitree revise`` and ``kpitree revisions``: the history of the tree's
definition (see :mod:`kpitree.review.revisions`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.errors import UserError
from kpitree.escaping import terminal_text
from kpitree.i18n import t

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _moment(text: str | None, zone: str) -> dt.datetime | None:
    from zoneinfo import ZoneInfo

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError.of("KT234", "revisions.bad_at", None, value=text) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))


@app.command()
def revise(
    path: PathArg = Path(),
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Why the definition changed.")
    ] = None,
    author: Annotated[
        str | None,
        typer.Option("--author", help="Who changed it (default: git user.name, else the login)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When the change took effect, e.g. 2026-10-01 or 2026-10-01T09:00 "
            "(default: now; not before the latest revision).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Record the definition as it is now as a revision (targets, formulas,
    assumptions, organisation), with its author and reason. Past periods are
    then measured against the targets valid at the time."""
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.project import Project
    from kpitree.review.revisions import record_revision
    from kpitree.review.service import default_author

    project = Project.load(path)  # only a definition that loads is recorded
    who = author.strip() if author and author.strip() else default_author(project.path)
    revision = record_revision(
        project.path,
        project.path / DEFINITION_FILE,
        who,
        (message or "").strip() or None,
        _moment(at, project.tree.timezone),
    )
    if json:
        print_json(None if revision is None else revision.to_json(project.tree.timezone))
        return
    if revision is None:
        typer.echo(t("revisions.cli.unchanged"))
    else:
        typer.echo(t("revisions.cli.recorded", id=revision.id))


@app.command()
def revisions(
    path: PathArg = Path(),
    diff: Annotated[
        int | None,
        typer.Option("--diff", help="Show what this revision changed (against --against)."),
    ] = None,
    against: Annotated[
        int | None,
        typer.Option("--against", help="The revision to compare with (default: the one before)."),
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="The diff of the file's text.")] = False,
    json: JsonOpt = False,
) -> None:
    """The definition's revisions (time, author, reason, what changed), or
    with --diff N what one revision changed."""
    from kpitree.definition.draft import DEFINITION_FILE
    from kpitree.project import Project
    from kpitree.review.revision_diff import changes, text_diff
    from kpitree.review.revisions import RevisionStore, catch_up
    from kpitree.review.service import default_author

    project = Project.load(path)
    zone = project.tree.timezone
    history = catch_up(
        project.path, project.path / DEFINITION_FILE, lambda: default_author(project.path)
    )
    if diff is None:
        rows = []
        for i, r in enumerate(history):
            found = changes(history[i - 1].definition, r.definition) if i else []
            rows.append({**r.to_json(zone), "changes": len(found)})
        if json:
            print_json(rows)
            return
        if not rows:
            typer.echo(t("revisions.cli.none"))
            return
        for row in rows:
            typer.echo(
                t(
                    "revisions.cli.line",
                    id=row["id"],
                    at=row["at"],
                    author=terminal_text(row["author"]),
                    reason=terminal_text(row["reason"] or t("revisions.cli.no_reason")),
                    changes=row["changes"],
                )
                + (f" ({t('revisions.cli.automatic')})" if row["automatic"] else "")
            )
        return
    with RevisionStore(project.path) as store:
        newer = store.get(diff)
        older = store.get(against) if against is not None else None
    if older is None:
        before = [r for r in history if (r.at, r.id) < (newer.at, newer.id)]
        older = before[-1] if before else None
    old_text = older.definition if older is not None else ""
    found = changes(old_text, newer.definition)
    if json:
        print_json(
            {
                "revision": newer.to_json(zone),
                "against": None if older is None else older.to_json(zone),
                "changes": [c.to_json() for c in found],
            }
        )
        return
    if text:
        old_name = f"revision {older.id}" if older is not None else "(none)"
        typer.echo(
            text_diff(old_text, newer.definition, old_name, f"revision {newer.id}"), nl=False
        )
        return
    for c in found:
        typer.echo(
            terminal_text(f"{c.key}: ")
            + t(f"revisions.change.{c.kind}", old=terminal_text(c.old), new=terminal_text(c.new))
        )
