"""Review reports with hostile text: node labels written as formulas or as HTML
and Markdown, and deals won by reps named as formulas (imported through
``kpitree import``). The XLSX report holds them as inert text with numbers still
numbers; the Markdown report as literal text a renderer shows as it is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hostile import (
    FORMULA_LABEL,
    HTML_LABEL,
    TEX_LABEL,
    assert_inert_xlsx,
    opportunities_csv,
    xlsx_values,
)
from kpitree.cli import main
from kpitree.project import Project
from kpitree.reports import build_report, render

from .conftest import AS_OF, PERIOD, copy_project, edit_definition

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@pytest.fixture(scope="module")
def hostile_report(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = copy_project(company, tmp_path_factory.mktemp("hostile") / "project")

    def relabel(doc: dict[str, Any]) -> None:
        doc["nodes"]["revenue"]["label"] = {"ja": FORMULA_LABEL, "en": FORMULA_LABEL}
        doc["nodes"]["won_deals"]["label"] = {"ja": HTML_LABEL, "en": HTML_LABEL}
        doc["nodes"]["leads"]["label"] = {"ja": TEX_LABEL, "en": TEX_LABEL}

    edit_definition(folder, relabel)
    source = folder / "opportunities.csv"
    source.write_text(opportunities_csv("10/10/2025"), encoding="utf-8")
    try:
        main(["import", str(source), "-m", "salesforce-opportunities", "-p", str(folder)])
    except SystemExit as exc:
        assert not exc.code, exc.code
    return build_report(Project.load(folder), PERIOD, "monthly", "en", AS_OF)


def test_xlsx_report_has_no_formula_and_keeps_numbers(hostile_report: Any) -> None:
    book = assert_inert_xlsx(render(hostile_report, "xlsx"))
    values = xlsx_values(book)
    assert FORMULA_LABEL in values and HTML_LABEL in values
    tree = next(s for s in book.worksheets if any(c.value == FORMULA_LABEL for c in s["A"]))
    row = next(r for r in tree.iter_rows() if r[0].value == FORMULA_LABEL)
    assert row[0].data_type == "s" and row[0].quotePrefix
    numbers = [c for c in row[1:] if c.value is not None and c.data_type == "n"]
    assert len(numbers) >= 4 and all(isinstance(c.value, int | float) for c in numbers)


def test_markdown_report_shows_labels_as_literal_text(hostile_report: Any) -> None:
    md = render(hostile_report, "md").decode("utf-8")
    assert "<img" not in md and not re.search(r"(?<!\\)\]\(", md), md
    assert "&lt;img src=x onerror=alert(1)&gt; \\[click\\](http://evil.example) \\| x" in md
    # Every table row keeps its number of columns: a "|" in a label does not add one.
    for block in re.split(r"\n\n", md):
        lines = [x for x in block.splitlines() if x.startswith("|")]
        widths = {len(re.findall(r"(?<!\\)\|", x)) for x in lines}
        assert len(widths) <= 1, block
    html = render(hostile_report, "html").decode("utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_chart_titles_are_text_not_tex_or_svg(hostile_report: Any) -> None:
    html = render(hostile_report, "html").decode("utf-8")
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL)
    assert charts and "<b>" not in "".join(charts)
    assert r"Leads $\foo$ &lt;b&gt;bold&lt;/b&gt;" in "".join(charts)
