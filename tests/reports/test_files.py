"""PDF and Excel files reopened with independent readers: pypdf (text and
font resources), pypdfium2 (pages rendered to pixels) and openpyxl."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from kpitree.i18n.numbers import format_value
from kpitree.project import Project
from kpitree.reports import build_report, render

from .conftest import AS_OF, JA_NAME, PERIOD

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

A4 = (595.28, 841.89)  # points


def _fonts(reader: Any) -> dict[str, bool]:
    """Every font used on any page (also inside the charts' form XObjects) ->
    whether its program is embedded in the file."""
    found: dict[str, bool] = {}

    def visit(resources: Any) -> None:
        resources = resources.get_object() if resources is not None else {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            found[str(font["/BaseFont"])] = embedded
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                visit(xobject.get("/Resources"))

    for page in reader.pages:
        visit(page.get("/Resources"))
    return found


@pytest.fixture(scope="module")
def ja_pdf(japanese: Path) -> tuple[Any, bytes]:
    project = Project.load(japanese)
    report = build_report(project, PERIOD, "monthly", "ja", AS_OF)
    return report, render(report, "pdf")


@pytest.mark.slow
def test_pdf_has_the_numbers_and_the_japanese_text(japanese: Path, ja_pdf: Any) -> None:
    from pypdf import PdfReader

    report, pdf = ja_pdf
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    project = Project.load(japanese)
    status = project.status(PERIOD, as_of=AS_OF, explain=False)
    kgi = status.row(project.tree.kgi, PERIOD)
    for value in (kgi.actual, kgi.target, kgi.expected, kgi.forecast):
        assert format_value(value, "currency", "JPY", "ja") in text
    won = status.row("won_deals", PERIOD)
    assert format_value(won.target, "count", "JPY", "ja") in text
    for words in (JA_NAME, "月次KPIレビュー", "2025年10月", "売上", "商談化率", "未達見込み",
                  "ネクストアクション", "フィールドセールス", report.narrative[0]):  # fmt: skip
        assert words in text, words
    assert "営業部" in text  # a Japanese team name from the data


@pytest.mark.slow
def test_pdf_fonts_are_embedded_japanese_fonts(ja_pdf: Any) -> None:
    from pypdf import PdfReader

    _, pdf = ja_pdf
    reader = PdfReader(io.BytesIO(pdf))
    fonts = _fonts(reader)
    assert fonts, "no font resources"
    assert all(fonts.values()), fonts
    assert any("Noto-Sans-CJK-JP" in name for name in fonts), fonts
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=1)


@pytest.mark.slow
def test_pdf_pages_are_not_blank(ja_pdf: Any) -> None:
    import numpy as np
    import pypdfium2 as pdfium

    _, pdf = ja_pdf
    document = pdfium.PdfDocument(pdf)
    assert len(document) >= 3
    for i in range(len(document)):
        pixels = np.asarray(document[i].render(scale=0.5).to_pil().convert("L"), dtype=float)
        ink = (pixels < 128).mean()
        assert pixels.std() > 3, f"page {i + 1} looks blank"
        # Page 1 carries the summary, its table and chart; later pages at least text.
        assert ink > (0.02 if i == 0 else 0.0003), f"page {i + 1} has almost no ink ({ink})"
    document.close()


def test_xlsx_numbers_are_numbers_with_charts(company: Path) -> None:
    from openpyxl import load_workbook

    project = Project.load(company)
    report = build_report(project, PERIOD, "monthly", "en", AS_OF)
    workbook = load_workbook(io.BytesIO(render(report, "xlsx")))
    names = workbook.sheetnames
    assert names[:4] == ["Summary", "KPI tree", "Biggest gaps", "Funnel"]
    assert {"Marketing", "Inside sales", "Field sales", "Customer success"} <= set(names)
    assert names[-1] == "Next actions"
    tree_sheet = workbook["KPI tree"]
    status = project.status(PERIOD, as_of=AS_OF, explain=False)
    header_row = next(r for r in range(1, 10) if tree_sheet.cell(row=r, column=1).value == "Node")
    assert tree_sheet.freeze_panes == f"B{header_row + 1}"
    labels = {
        tree_sheet.cell(row=r, column=1).value: r
        for r in range(header_row + 1, tree_sheet.max_row + 1)
    }
    checked = 0
    for r in status.rows:
        if r.segment or r.actual is None:
            continue
        row = labels[project.tree.nodes[r.node].display("en")]
        actual = tree_sheet.cell(row=row, column=2)
        target = tree_sheet.cell(row=row, column=3)
        # Excel keeps 15 significant digits (openpyxl writes them so).
        assert isinstance(actual.value, int | float)
        assert actual.value == pytest.approx(r.actual, rel=1e-14)
        assert isinstance(target.value, int | float)
        assert target.value == pytest.approx(r.target, rel=1e-14)
        unit = project.tree.nodes[r.node].unit_name
        if unit == "currency":
            assert "¥" in actual.number_format
        if unit == "ratio":
            assert actual.number_format == "0.0%"
        checked += 1
    assert checked >= 10
    for sheet in ("Summary", "Funnel", "Field sales", "Inside sales"):
        charts = workbook[sheet]._charts
        assert charts, f"no chart on {sheet}"
    field_sales = workbook["Field sales"]
    assert field_sales._charts[0].tagname in ("lineChart", "barChart")
