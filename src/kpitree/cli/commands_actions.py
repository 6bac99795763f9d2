"""``kpitree actions add|list|done|import``: actions (施策) decided in review
meetings, with their measured outcome (see :mod:`kpitree.review`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli.application import app
from kpitree.cli.output import parse_day, print_json
from kpitree.escaping import terminal_text
from kpitree.i18n import current_lang, t

if TYPE_CHECKING:
    from kpitree.project import Project
    from kpitree.review.actions import Action
    from kpitree.review.outcome import Outcome

actions_app = typer.Typer(
    help="Actions (施策) decided in reviews: add, list with their measured outcome, close, "
    "import from a filled review pack.",
    no_args_is_help=True,
)
app.add_typer(actions_app, name="actions")

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder or its kpitree.yaml.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
AuthorOpt = Annotated[
    str | None,
    typer.Option("--author", help="Who makes the change (default: git user.name, else the login)."),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Measure outcomes up to this day, YYYY-MM-DD (default: today)."),
]


def _author(project: Project, given: str | None) -> str:
    from kpitree.review.service import default_author

    return given.strip() if given and given.strip() else default_author(project.path)


@actions_app.command("add")
def add(
    node: Annotated[str, typer.Argument(help="The node the action should move (its id).")],
    owner: Annotated[str, typer.Option("--owner", help="Who carries the action out.")],
    effect: Annotated[
        str,
        typer.Option(
            "--effect",
            help="Expected effect on the node: +3pt (a rate, in points), +10% (relative), "
            "+20 (in the node's unit); may end with 'by 2027-01'.",
        ),
    ],
    message: Annotated[str, typer.Option("--message", "-m", help="What will be done.")],
    due: Annotated[
        str | None,
        typer.Option("--due", help="Due day or month (2027-01-31, 2027-01); or 'by' in --effect."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First day of the action (default: today).")
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option("--segment", help="Only this segment, e.g. team=東日本IS (default: company)."),
    ] = None,
    project_path: ProjectOpt = Path(),
    author: AuthorOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add an action with its expected effect; its outcome is measured on the
    node once its due day has passed."""
    from kpitree.project import Project
    from kpitree.review.actions import NewAction, parse_segment
    from kpitree.review.effect import parse_due
    from kpitree.review.service import add_action

    project = Project.load(project_path)
    new = NewAction(
        node=node.strip(),
        owner=owner,
        description=message,
        effect=effect,
        due=parse_due(due) if due else None,
        start=parse_day(start) if start else None,
        segment=parse_segment(segment),
    )
    action = add_action(project, new, _author(project, author))
    if json:
        print_json(action.to_json())
        return
    typer.echo(t("review.cli.added", id=action.id, due=action.due.isoformat()))


@actions_app.command("list")
def list_actions(
    project_path: ProjectOpt = Path(),
    all_: Annotated[bool, typer.Option("--all", help="Done actions too.")] = False,
    node: Annotated[str | None, typer.Option("--node", help="Only actions on this node.")] = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
) -> None:
    """Actions with their progress (open) or measured outcome (window over):
    met, not met, or inconclusive when the volume cannot tell."""
    from kpitree.project import Project
    from kpitree.review.service import open_store, outcomes

    project = Project.load(project_path)
    with open_store(project) as store:
        actions = store.list(status=None if all_ else "open", node=node)
    found = outcomes(project, actions, parse_day(as_of))
    if json:
        print_json([{**a.to_json(), "outcome": found[a.id].to_json()} for a in actions])
        return
    if not actions:
        typer.echo(t("review.cli.none"))
        return
    _print(project, actions, found)


def _print(project: Project, actions: list[Action], found: dict[int, Outcome]) -> None:
    from rich.console import Console
    from rich.table import Table

    from kpitree.review.outcome import outcome_text

    lang = current_lang()
    table = Table(show_lines=False)
    for key in ("id", "node", "owner", "action", "expected", "due", "outcome"):
        table.add_column(t(f"review.col.{key}"))
    for a in actions:
        node = project.tree.nodes.get(a.node)
        label = node.display(lang) if node else a.node
        if a.segment:
            label += f" [{a.segment_text}]"
        table.add_row(
            str(a.id),
            terminal_text(label),
            terminal_text(a.owner),
            terminal_text(a.description),
            terminal_text(a.effect_text),
            a.due.isoformat() + ("" if a.status == "open" else f" ({t('review.status.done')})"),
            outcome_text(
                found[a.id], node.unit_name if node else None, project.tree.currency, lang
            ),
        )
    Console(highlight=False, width=200).print(table)


@actions_app.command("done")
def done(
    action_id: Annotated[int, typer.Argument(help="The action's number (kpitree actions list).")],
    note: Annotated[str | None, typer.Option("--note", help="What came of it.")] = None,
    project_path: ProjectOpt = Path(),
    author: AuthorOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
) -> None:
    """Close an action; its outcome as measured now is kept in its history."""
    from kpitree.project import Project
    from kpitree.review.outcome import outcome_text
    from kpitree.review.service import close_action

    project = Project.load(project_path)
    action, outcome = close_action(
        project, action_id, _author(project, author), note, parse_day(as_of)
    )
    if json:
        print_json({**action.to_json(), "outcome": outcome.to_json(), "history": action.history})
        return
    node = project.tree.nodes.get(action.node)
    unit = node.unit_name if node else None
    typer.echo(
        t(
            "review.cli.done",
            id=action.id,
            outcome=outcome_text(outcome, unit, project.tree.currency, current_lang()),
        )
    )


@actions_app.command("import")
def import_actions(
    file: Annotated[
        Path,
        typer.Argument(
            help="A review pack with its next-actions table filled in: the .xlsx pack, "
            "the .html pack saved from the browser, or a .csv of the table."
        ),
    ],
    project_path: ProjectOpt = Path(),
    author: AuthorOpt = None,
    json: JsonOpt = False,
) -> None:
    """Read the next-actions table of a review pack (XLSX, HTML or CSV): rows
    without a number become new actions, numbered rows update theirs. All rows
    or none."""
    from kpitree.project import Project
    from kpitree.review.sheet import import_sheet

    project = Project.load(project_path)
    result = import_sheet(project, file, _author(project, author))
    if json:
        print_json(result)
        return
    typer.echo(
        t("review.cli.imported", created=len(result["created"]), updated=len(result["updated"]))
    )
