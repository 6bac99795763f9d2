"""Commands over the tree definition: init, check, plan, tree, explain, schema, demo."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kpitree.cli.application import app
from kpitree.cli.output import parse_day, print_diagnostics, print_json
from kpitree.errors import Diagnostic, Severity, UserError
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.project import Project

PathArg = Annotated[
    Path, typer.Argument(help="Project folder or its kpitree.yaml.", show_default=True)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
YearOpt = Annotated[
    int | None,
    typer.Option(
        "--fiscal-year", "-y", help="Fiscal year to plan (default: from the file or today)."
    ),
]


def _parse_sets(items: list[str], project: Project) -> dict[str, float]:
    values: dict[str, float] = {}
    raw_text: dict[str, str] = {}
    problems = []
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            from kpitree.i18n.parse import parse_number

            # Plain (0.25, 300000000) or as the pages write it (25%, ¥3億).
            values[name.strip()] = parse_number(raw)
            raw_text[name.strip()] = raw
        except ValueError:
            problems.append(Diagnostic(Severity.ERROR, "KT309", "cli.bad_set", {"value": item}))
    if raw_text:
        from kpitree.planning.rate_inputs import bare_percent_mistakes

        plan = project.plan
        problems += bare_percent_mistakes(project.tree, raw_text, values, lambda: plan().values())
    if problems:
        raise UserError(problems)
    return values


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    template: Annotated[str, typer.Option("--template", "-t", help="Template name.")] = "the-model",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing kpitree.yaml.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help='Name of the project (e.g. "FY2026 売上計画").'),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of the project: ja or en (its default name and its notifications).",
        ),
    ] = None,
) -> None:
    """Create a project from a template (the-model: marketing → IS → FS → CS)."""
    from kpitree.project import Project

    definition = Project.init(folder, template, force=force, name=name, lang=lang)
    typer.echo(t("cli.init_done", lang=lang, path=str(definition)))


@app.command()
def check(path: PathArg = Path(), json: JsonOpt = False) -> None:
    """Check the design: errors and SMART/sizing warnings, all at once."""
    from kpitree.project import Project

    try:
        diagnostics = Project.check(path).diagnostics
    except UserError as exc:
        if not json:
            raise
        # A file that cannot be read at all (YAML syntax, no project) still
        # answers --json in the report shape, so tools need one parser.
        diagnostics = exc.diagnostics
    errors = [d for d in diagnostics if d.is_error]
    warnings = len(diagnostics) - len(errors)
    if json:
        print_json(
            {
                "ok": not errors,
                "errors": len(errors),
                "warnings": warnings,
                "diagnostics": [d.to_json() for d in diagnostics],
            }
        )
    else:
        print_diagnostics(diagnostics)
        key = "cli.check_failed" if errors else "cli.check_ok"
        typer.echo(t(key, errors=len(errors), warnings=warnings), err=True)
    if errors:
        raise typer.Exit(1)


@app.command()
def plan(
    path: PathArg = Path(),
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override a node for this run: node=value (repeatable; 0.25, 25%, ¥3億).",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario", help="Plan a scenario from the file beside the base (repeatable)."
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Show the cascade: department, team or rep.")
    ] = None,
    months: Annotated[bool, typer.Option("--months", help="Show every month.")] = False,
    save_as: Annotated[
        str | None,
        typer.Option(
            "--save-scenario",
            help="Save the --set values as this scenario in kpitree.yaml (comments kept).",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="The saved scenario's label.")
    ] = None,
    from_actuals: Annotated[
        bool,
        typer.Option(
            "--from-actuals",
            help="Re-plan the rest of the year: past months take their actuals, the rest "
            "is solved so that the year still reaches its targets.",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="With --from-actuals: the day of the data (default: today)."),
    ] = None,
    fiscal_year: YearOpt = None,
    json: JsonOpt = False,
) -> None:
    """Plan every node backwards from the targets (逆算), per year and month."""
    from kpitree.cli import render
    from kpitree.project import Project

    project = Project.load(path)
    if from_actuals:
        _replan(
            project,
            as_of,
            fiscal_year,
            scenario,
            _parse_sets(set_ or [], project),
            months,
            by,
            json,
        )
        return
    overrides = _parse_sets(set_ or [], project)
    if save_as is not None:
        if not overrides:
            raise UserError.of("KT310", "cli.save_needs_set", None, name=save_as)
        project.save_scenario(save_as, overrides, label=label)
        saved = t("cli.scenario_saved", name=save_as, path=str(project.path / "kpitree.yaml"))
        typer.echo(saved, err=json)
        project = Project.load(path)
    base = project.plan(fiscal_year=fiscal_year)
    variants = [
        (name, project.plan(fiscal_year=fiscal_year, scenario=name, overrides=overrides))
        for name in (scenario or [])
    ]
    if overrides and not scenario:
        variants.append(("--set", project.plan(fiscal_year=fiscal_year, overrides=overrides)))
    shown = variants[-1][1] if variants else base
    if json:
        payload = shown.to_json()
        if variants:
            payload["base"] = base.to_json()
            payload["scenarios"] = {name: p.to_json() for name, p in variants}
        print_json(payload)
    else:
        from kpitree.cli.render_plan import capacity_lines

        render.plan_table(base, variants, months=months)
        if by:
            render.cascade_table(shown, by)
        capacity_lines(shown)
        print_diagnostics(shown.diagnostics if variants else base.diagnostics)
    if not shown.ok or not base.ok:
        raise typer.Exit(1)


def _replan(
    project: Project,
    as_of: str | None,
    fiscal_year: int | None,
    scenario: list[str] | None,
    overrides: dict[str, float],
    months: bool,
    by: str | None,
    json: bool,
) -> None:
    from kpitree.cli import render
    from kpitree.cli.render_plan import capacity_lines, replan_table
    from kpitree.planning.replan import Replan

    if len(scenario or []) > 1:
        raise UserError.of("KT453", "cli.replan_one_scenario", None)
    plan = project.plan(
        fiscal_year=fiscal_year,
        overrides=overrides,
        scenario=scenario[0] if scenario else None,
        from_actuals=True,
        as_of=parse_day(as_of),
    )
    assert isinstance(plan, Replan)
    if json:
        print_json(plan.to_json())
    else:
        replan_table(plan, months=months)
        if by:
            render.cascade_table(plan, by)
        capacity_lines(plan)
        print_diagnostics(plan.diagnostics)
    if not plan.ok:
        raise typer.Exit(1)


@app.command()
def tree(
    path: PathArg = Path(),
    fiscal_year: YearOpt = None,
) -> None:
    """Print the tree with formulas, owners, targets and plan values."""
    from kpitree.cli import render
    from kpitree.project import Project

    project = Project.load(path)
    render.tree_view(project.tree, project.plan(fiscal_year=fiscal_year))


@app.command()
def explain(
    path: PathArg = Path(),
    at: Annotated[
        str, typer.Option("--at", help="Values for sensitivity: plan, a scenario, or a file.")
    ] = "plan",
    base: Annotated[
        str | None,
        typer.Option("--from", help="Base values for attribution: plan, a scenario, or a file."),
    ] = None,
    current: Annotated[
        str | None,
        typer.Option("--to", help="Values to compare with --from: plan, a scenario, or a file."),
    ] = None,
    step: Annotated[float, typer.Option("--step", help="Relative step for effects.")] = 0.10,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="Explain actuals of this period (e.g. 2026-10): the gap to target "
            "(to pace while the period runs), --vs forecast or --vs previous. Same as "
            "--at actual@P --from expected@P --to actual@P.",
        ),
    ] = None,
    vs: Annotated[
        str,
        typer.Option(
            "--vs",
            help="With --period: target (the value expected by the as-of day while the "
            "period runs), forecast (the period's forecast against its whole target) "
            "or previous.",
        ),
    ] = "target",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day to measure up to (default: today).")
    ] = None,
    fiscal_year: YearOpt = None,
    json: JsonOpt = False,
) -> None:
    """Which input moves the KGI most (sensitivity) and what explains a change (attribution).

    Value sets: plan, a scenario, a YAML/JSON file, or data: actual@2026-10,
    target@2026-10, expected@2026-10, forecast@2026-10, previous@2026-10. Inputs
    without data take their plan value (the output lists them)."""

    from kpitree.cli import render
    from kpitree.project import Project

    project = Project.load(path)
    day = parse_day(as_of)
    if period is not None:
        if vs not in ("target", "forecast", "previous"):
            raise UserError.of("KT533", "cli.bad_vs", None, value=vs)
        at = f"actual@{period}" if at == "plan" else at
        base = base or {"target": "expected", "forecast": "target"}.get(vs, vs) + f"@{period}"
        current = current or ("forecast" if vs == "forecast" else "actual") + f"@{period}"
    result = project.explain(
        at=at, base=base, current=current, step=step, fiscal_year=fiscal_year, as_of=day
    )
    if json:
        print_json(result.to_json())
    else:
        render.explanation(project.tree, result)


@app.command()
def schema() -> None:
    """Print the JSON Schema of kpitree.yaml (for editor completion)."""
    from kpitree.definition.schema import json_schema

    print_json(json_schema())


class DemoSizeName(StrEnum):
    """Sizes of ``kpitree.data.demo.SIZES`` (named here so that ``--help`` does not
    import the generator)."""

    tiny = "tiny"
    small = "small"
    medium = "medium"
    bench = "bench"
    large = "large"


@app.command()
def demo(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Where to create the demo project (default: a temp folder)."),
    ] = None,
    size: Annotated[
        DemoSizeName,
        typer.Option(
            "--size",
            help="Demo company: tiny (3k leads), small (25k), medium (200k), bench (1.5M) "
            "or large (2M).",
        ),
    ] = DemoSizeName.small,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Start the web dashboard on the demo project afterwards (Ctrl+C stops it).",
        ),
    ] = True,
    port: Annotated[
        int, typer.Option("--port", help="Port of the dashboard (0: any free port).")
    ] = 8000,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the dashboard in a browser.")
    ] = False,
) -> None:
    """Create a demo project with the demo company's data; check, plan and print
    it, then serve the dashboard on it (on 127.0.0.1; ``--no-serve`` to skip).

    The data goes into the project's warehouse as one import (`kpitree imports`);
    running the demo again on the same folder does not duplicate it.
    """
    import tempfile

    from kpitree.cli import render
    from kpitree.project import Project

    target = folder or Path(tempfile.mkdtemp(prefix="kpitree-demo-"))
    definition = target / "kpitree.yaml"
    fresh = not definition.exists()
    if fresh:
        definition = Project.init(target)
        _add_demo_rules(definition)
    typer.echo(t("cli.demo_project", path=str(target)))
    project = Project.load(target)
    planned = project.plan()
    _load_demo_data(project, target, size.value, planned.fiscal_year)
    if fresh:
        # Plan this year as last year's actuals plus 10%, with the demo
        # company's own teams and reps (a new project's first planning round).
        project.plan_from_history(f"FY{planned.fiscal_year - 1}", fiscal_year=planned.fiscal_year)
        project = Project.load(target)
        planned = project.plan()
    result = Project.check(target)
    print_diagnostics(result.diagnostics)
    typer.echo(t("cli.check_ok", errors=len(result.errors), warnings=len(result.warnings)))
    render.tree_view(project.tree, planned)
    render.plan_table(planned, [], months=False)
    typer.echo(t("cli.demo_next", path=str(target)))
    if serve:
        from kpitree.cli.commands_web import serve_project

        serve_project(target, port=port, open_browser=open_browser)


def _add_demo_rules(definition: Path) -> None:
    """The demo company's example alert rules and hand-off SLAs, so that the
    Alerts and SLA pages show its own numbers (appended as text: the template's
    comments stay)."""
    from importlib import resources

    rules = (resources.files("kpitree") / "data" / "demo" / "rules.yaml").read_text("utf-8")
    with definition.open("a", encoding="utf-8") as out:
        out.write(rules)


def _load_demo_data(project: Any, folder: Path, size: str, fiscal_year: int) -> None:
    """Generate the demo company and load it into the project's warehouse."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from kpitree.data.demo.load import load_demo
    from kpitree.data.pgwarehouse import warehouse_for

    tree = project.tree
    # The project's warehouse as imports write it: its DuckDB file or the PostgreSQL
    # database data.warehouse names (another engine is KT570, saying what to do).
    warehouse = warehouse_for(folder, tree.warehouse)
    stderr = Console(stderr=True)
    status = (
        stderr.status(t("warehouse.demo.generating", size=size)) if stderr.is_terminal else None
    )
    if status is not None:
        status.start()
    try:

        def step(name: str) -> None:
            if status is not None:
                status.update(t(f"warehouse.demo.{name}", size=size))

        # The company as it stands today: a dashboard opened on the demo shows
        # no fact after today, as one on the user's own data would.
        today = datetime.now(ZoneInfo(tree.timezone)).date()
        loaded = load_demo(
            warehouse,
            size,
            fiscal_year=fiscal_year,
            fiscal_year_start=tree.fiscal_year_start,
            tz=tree.timezone,
            as_of=today,
            on_step=step,
        )
    finally:
        if status is not None:
            status.stop()
    typer.echo(
        t(
            f"warehouse.demo.{loaded.status}",
            size=loaded.size,
            fiscal_year=loaded.fiscal_year,
            id=loaded.import_id,
            undone=", ".join(str(i) for i in loaded.undone),
            path=warehouse.location,
        )
    )
    counts = {name: f"{n:,}" for name, n in loaded.rows.items()}
    typer.echo(
        t(
            "warehouse.demo.rows",
            leads=counts.get("leads", "0"),
            deals=counts.get("deals", "0"),
            activities=counts.get("activities", "0"),
            contracts=counts.get("contracts", "0"),
            accounts=counts.get("accounts", "0"),
            total=f"{loaded.total_rows:,}",
        )
    )
