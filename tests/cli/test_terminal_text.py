"""Imported text printed by the CLI is shown as it is: never read as Rich markup
(``[/]`` crashed ``kpitree status`` and ``kpitree query``; ``[link=…]`` made a
link) and never passed to the terminal as an escape sequence."""

from __future__ import annotations

import csv
from pathlib import Path

from kpitree.project import Project

from .conftest import Cli

REPS = ["[/]", "[link=http://evil.example]click[/link]", "\x1b]0;pwned\x07x"]


def test_rep_names_print_literally_in_status_and_query(tmp_path: Path, cli: Cli) -> None:
    Project.init(tmp_path)
    source = tmp_path / "opportunities.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["Opportunity ID", "Created Date", "Close Date", "Amount", "Stage", "Opportunity Owner"]
        )
        for i, rep in enumerate(REPS):
            writer.writerow([f"D{i}", "10/01/2026", "10/05/2026", "1000", "Closed Won", rep])
    assert cli("import", source, "-m", "salesforce-opportunities", "-p", tmp_path).code == 0

    query = cli("query", "select rep_id from reps order by rep_id", "-p", tmp_path)
    status = cli("status", tmp_path, "--period", "2026-10", "--by", "rep")
    for result in (query, status):
        assert result.code == 0, result.err
        assert "[/]" in result.out
        assert "[link=http://evil.example]click[/link]" in result.out
        assert "\x1b" not in result.out and "\ufffd]0;pwned\ufffdx" in result.out


def test_labels_from_the_definition_print_literally_in_tree_plan_and_replan(
    tmp_path: Path, cli: Cli
) -> None:
    """A label such as ``[/x]`` crashed ``kpitree plan`` and ``kpitree tree``."""
    Project.init(tmp_path)
    definition = tmp_path / "kpitree.yaml"
    text = definition.read_text(encoding="utf-8")
    definition.write_text(
        text.replace("label: {ja: リード獲得数, en: Leads}", 'label: "[/x] [bold]Leads"'),
        encoding="utf-8",
    )
    for args in (
        ("tree", tmp_path),
        ("plan", tmp_path, "--by", "team"),
        ("plan", tmp_path, "--from-actuals", "--as-of", "2026-10-06", "-y", "2026"),
    ):
        result = cli(*args)
        assert result.code in (0, 1), result.err
        assert "Traceback" not in result.err
        # Narrow tables wrap the label's cell; the markup itself must be printed.
        assert "[/x]" in result.out and "[bold]" in result.out, args
