"""Downloads of the pages (``?format=csv|xlsx``) with hostile text: a node label
and rep names imported through the real import path that a spreadsheet would
run as formulas. Every table comes out inert, numbers stay numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hostile import (
    FORMULA_LABEL,
    FORMULA_REP,
    HOSTILE_REPS,
    assert_inert_csv,
    assert_inert_xlsx,
    hostile_demo,
    xlsx_values,
)
from kpitree.web.app import create_app
from kpitree.web.downloads import table_response

EN = {"accept-language": "en"}


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory, demo_project: Path) -> Path:
    """The demo with a node labelled as a formula and deals won today by reps
    named as formulas, imported by ``kpitree import``."""
    return hostile_demo(demo_project, tmp_path_factory.mktemp("hostile") / "demo")


@pytest.fixture(scope="module")
def client(hostile_project: Path) -> Iterator[TestClient]:
    with closing(
        TestClient(create_app(hostile_project), base_url="http://localhost", headers=EN)
    ) as client:
        yield client


PAGES = [
    ("/api/tree", {}),
    ("/api/nodes/won_deals", {"by": "rep"}),
    ("/api/funnel", {}),
    ("/api/departments", {}),
    ("/api/departments/field_sales", {}),
    ("/api/plan", {}),
]


def _downloads(client: TestClient) -> Iterator[tuple[str, str, str, Any]]:
    """(path, table, format, response) for every table of every page."""
    for path, params in PAGES:
        view = client.get(path, params=params)
        assert view.status_code == 200, (path, view.text)
        for table in view.json()["tables"]:
            for fmt in ("csv", "xlsx"):
                response = client.get(path, params={**params, "format": fmt, "table": table})
                assert response.status_code == 200, (path, table, fmt, response.text)
                yield path, table, fmt, response
    for fmt in ("csv", "xlsx"):
        response = client.get("/api/imports", params={"format": fmt})
        assert response.status_code == 200
        yield "/api/imports", "imports", fmt, response


def test_every_csv_and_xlsx_download_holds_hostile_text_as_inert_text(
    client: TestClient,
) -> None:
    texts: set[str] = set()
    count = 0
    for _path, _table, fmt, response in _downloads(client):
        count += 1
        if fmt == "csv":
            texts |= {cell for row in assert_inert_csv(response.content) for cell in row}
        else:
            book = assert_inert_xlsx(response.content)
            texts |= {v for v in xlsx_values(book) if isinstance(v, str)}
    assert count == 2 * 9  # eight tables of six pages and the import history
    # The hostile text is there, neutralised: with a quote in CSV, exact in XLSX.
    assert "'" + FORMULA_LABEL in texts and FORMULA_LABEL in texts
    for rep in HOSTILE_REPS:
        assert "'" + rep in texts and rep in texts, rep
    assert "'@opportunities.csv" in texts and "@opportunities.csv" in texts


def test_rep_breakdown_keeps_numbers_numeric(client: TestClient) -> None:
    params = {"by": "rep", "table": "breakdown"}
    csv = client.get("/api/nodes/won_deals", params={**params, "format": "csv"}).content
    rows = assert_inert_csv(csv)
    by_rep = {row[0]: row for row in rows[1:]}
    assert by_rep["'" + FORMULA_REP][1] == "1"  # one deal won, written as a number
    xlsx = client.get("/api/nodes/won_deals", params={**params, "format": "xlsx"}).content
    sheet = assert_inert_xlsx(xlsx).active
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    actual = cells[FORMULA_REP][1]
    assert actual.data_type == "n" and actual.value == 1


def test_negative_numbers_stay_numbers_and_text_like_them_is_neutralised() -> None:
    columns = ["=label", "gap", "note", "ratio"]
    rows = [["-5%", -1234.5, "-5", -0.25], ["+81-3-1234-5678", -7, "@x", "\t=1+2"]]
    csv_rows = assert_inert_csv(table_response(columns, rows, "csv", "t").body)
    assert csv_rows == [
        ["'=label", "gap", "note", "ratio"],
        ["'-5%", "-1234.5", "-5", "-0.25"],
        ["'+81-3-1234-5678", "-7", "'@x", "'\t=1+2"],
    ]
    book = assert_inert_xlsx(table_response(columns, rows, "xlsx", "t").body)
    sheet = book.active
    assert [c.value for c in sheet[2]] == ["-5%", -1234.5, "-5", -0.25]
    assert [c.data_type for c in sheet[2]] == ["s", "n", "s", "n"]
    assert sheet["A1"].quotePrefix and sheet["A2"].quotePrefix and not sheet["C2"].quotePrefix


def test_control_characters_do_not_break_an_xlsx_download() -> None:
    response = table_response(["name"], [["rep\x01\x1b[31m"]], "xlsx", "t")
    book = assert_inert_xlsx(response.body)
    assert book.active["A2"].value == "rep\ufffd\ufffd[31m"
