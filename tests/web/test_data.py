"""The Data page's API: preview (nothing written), per-row errors, Shift_JIS and
XLSX uploads, import, history, undo, and table downloads."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kpitree.project import Project
from kpitree.web.app import create_app
from kpitree.web.downloads import table_response
from kpitree.web.live import data_version

EN = {"accept-language": "en"}
# Clients are not entered as context managers: that would run the app's lifespan
# (page warming, the live watcher), which these tests do not need and which only
# competes with them for the CPU. tests/web/test_platform_live.py covers it.
MAPPING = "salesforce-opportunities"


@pytest.fixture
def data_client(demo_copy: Path) -> Iterator[TestClient]:
    with closing(
        TestClient(create_app(demo_copy), base_url="http://localhost", headers=EN)
    ) as client:
        client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
        yield client


def today() -> str:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")


def deals_csv(rows: list[tuple[str, str, str]], *, japanese: bool = False) -> str:
    """Opportunity export: (id, close date, amount) per deal, all won."""
    if japanese:
        head = "商談 ID,商談名,作成日,完了予定日,金額,フェーズ,商談 所有者"
        return head + "\n" + "".join(f"{i},案件{i},{d},{d},{a},成立,営業一郎\n" for i, d, a in rows)
    head = "Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage,Opportunity Owner"
    return head + "\n" + "".join(f"{i},Deal {i},{d},{d},{a},Closed Won,rep-1\n" for i, d, a in rows)


def preview(client: TestClient, name: str, content: bytes, mapping: str = MAPPING) -> Any:
    return client.post(
        "/api/imports/preview",
        files={"file": (name, content, "application/octet-stream")},
        data={"mapping": mapping},
    )


def won_amount(project: Path) -> float:
    """Independent check: the sum of won deal amounts, read straight from DuckDB."""
    import duckdb

    con = duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT coalesce(sum(amount), 0) FROM deals WHERE status = 'won'"
        ).fetchall()
    finally:
        con.close()
    return float(row[0][0])


def test_preview_writes_nothing_and_lists_every_bad_row(
    data_client: TestClient, demo_copy: Path
) -> None:
    version = data_version(Project.load(demo_copy))
    before = won_amount(demo_copy)
    day = today()
    content = deals_csv(
        [
            ("P-1", day, "1000"),
            ("P-2", "13/45/2026", "2000"),
            ("P-3", day, "abc"),
            ("P-4", day, "4000"),
        ]
    ).encode()
    response = preview(data_client, "deals.csv", content)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["rows_read"] == 4 and found["valid_rows"] == 2 and found["rejected_rows"] == 2
    problems = {(e["row"], e["column"]) for e in found["errors"]}
    assert (3, "Created Date") in problems or (3, "Close Date") in problems
    assert (4, "Amount") in problems
    assert all(e["message"] for e in found["errors"])
    deals = next(t for t in found["tables"] if t["table"] == "deals")
    assert deals["rows"] == 2
    assert [row[deals["columns"].index("deal_id")] for row in deals["preview"]] == ["P-1", "P-4"]
    # Nothing was written.
    assert data_version(Project.load(demo_copy)) == version
    assert won_amount(demo_copy) == before


@pytest.mark.slow  # imports run in a child kpitree process
def test_import_all_or_nothing_then_skip_invalid_then_undo(
    data_client: TestClient, demo_copy: Path
) -> None:
    before = won_amount(demo_copy)
    day = today()
    content = deals_csv([("Q-1", day, "1500000"), ("Q-2", day, "abc"), ("Q-3", day, "2500000")])
    upload = preview(data_client, "deals.csv", content.encode()).json()["upload_id"]
    refused = data_client.post("/api/imports", json={"upload_id": upload, "mapping": MAPPING})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "KT622"
    assert won_amount(demo_copy) == before
    upload = preview(data_client, "deals.csv", content.encode()).json()["upload_id"]
    done = data_client.post(
        "/api/imports", json={"upload_id": upload, "mapping": MAPPING, "skip_invalid": True}
    )
    assert done.status_code == 200, done.text
    imported = done.json()["import"]
    assert imported["rows_read"] == 3 and imported["rejected"] == 1
    assert won_amount(demo_copy) == pytest.approx(before + 4_000_000)
    history = data_client.get("/api/imports").json()["imports"]
    assert history[0]["import_id"] == imported["import_id"] and history[0]["status"] == "applied"
    assert history[0]["file"] == "deals.csv"
    # The upload is gone once imported.
    again = data_client.post("/api/imports", json={"upload_id": upload, "mapping": MAPPING})
    assert again.status_code == 404 and again.json()["error"]["code"] == "KT620"
    undone = data_client.post(f"/api/imports/{imported['import_id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["undo"]["deleted"] > 0
    assert won_amount(demo_copy) == pytest.approx(before)
    assert data_client.get("/api/imports").json()["imports"][0]["status"] == "undone"


@pytest.mark.slow  # imports run in a child kpitree process
def test_shift_jis_csv_with_japanese_headers(data_client: TestClient, demo_copy: Path) -> None:
    before = won_amount(demo_copy)
    content = deals_csv([("J-1", today(), "1234567")], japanese=True).encode("cp932")
    found = preview(data_client, "商談エクスポート.csv", content).json()
    assert found["file"] == "商談エクスポート.csv" and found["errors"] == []
    done = data_client.post(
        "/api/imports", json={"upload_id": found["upload_id"], "mapping": MAPPING}
    )
    assert done.status_code == 200, done.text
    assert won_amount(demo_copy) == pytest.approx(before + 1_234_567)
    assert data_client.get("/api/imports").json()["imports"][0]["file"] == "商談エクスポート.csv"


def test_xlsx_upload(data_client: TestClient) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Opportunity ID", "Created Date", "Close Date", "Amount", "Stage"])
    sheet.append(
        ["X-1", dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 20), 1200000, "Closed Won"]
    )
    sheet.append(["X-2", dt.datetime(2026, 10, 2), None, None, "Prospecting"])
    buffer = io.BytesIO()
    book.save(buffer)
    found = preview(data_client, "deals.xlsx", buffer.getvalue()).json()
    assert found["rows_read"] == 2 and found["errors"] == []
    deals = next(t for t in found["tables"] if t["table"] == "deals")
    amount = deals["columns"].index("amount")
    assert [row[amount] for row in deals["preview"]] == [1200000, None]


def test_bad_uploads_say_what_to_do(data_client: TestClient) -> None:
    wrong_type = preview(data_client, "deals.pdf", b"%PDF")
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "KT615"
    unknown = preview(data_client, "deals.csv", b"a\n1\n", mapping="salesforce-opportunity")
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "KT621" and "salesforce-opportunities" in error["message"]
    missing = preview(data_client, "deals.csv", b"a,b\n1,2\n")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"].startswith("KT3")  # the data layer's own code
    gone = data_client.post("/api/imports", json={"upload_id": "x" * 24, "mapping": MAPPING})
    assert gone.status_code == 404


def test_html_fragments_escape_file_values(data_client: TestClient) -> None:
    content = deals_csv([("<script>alert(1)</script>", today(), "1000")]).encode()
    page = data_client.post(
        "/data/preview",
        files={"file": ("x.csv", content, "text/csv")},
        data={"mapping": MAPPING},
    )
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_upload_names_stay_inside_the_uploads_folder(demo_copy: Path) -> None:
    from kpitree.web import imports

    project = Project.load(demo_copy)
    for name, kept in (
        ("../../kpitree.csv", "kpitree.csv"),
        ("C:\\Users\\sato\\商談.csv", "商談.csv"),
        (".hidden.csv", "hidden.csv"),
    ):
        upload = imports.save_upload(project, name, io.BytesIO(b"a\n"))
        assert upload.name == kept
        assert upload.path.parent.parent == demo_copy / ".kpitree" / "uploads"
    assert (demo_copy / "kpitree.yaml").read_text(encoding="utf-8").startswith("#")


def test_project_mappings_are_offered(data_client: TestClient, demo_copy: Path) -> None:
    mapping = demo_copy / "mappings" / "crm.yaml"
    mapping.parent.mkdir()
    mapping.write_text("mapping: 1\nname: crm\ntables: {}\n", encoding="utf-8")
    offered = data_client.get("/api/mappings").json()["mappings"]
    assert offered[0] == {"id": "mappings/crm.yaml", "kind": "project"}
    assert {"id": MAPPING, "kind": "preset"} in offered


def test_csv_download_has_a_bom_and_plain_numbers() -> None:
    response = table_response(
        ["チーム", "受注額", "率"], [["東日本", 1234567.0, 0.25]], "csv", "受注"
    )
    body = response.body
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig") == "チーム,受注額,率\r\n東日本,1234567,0.25\r\n"
    assert "filename*=UTF-8''%E5%8F%97%E6%B3%A8.csv" in response.headers["content-disposition"]


def test_xlsx_download_keeps_numbers_and_dates() -> None:
    from openpyxl import load_workbook

    day = dt.date(2026, 10, 1)
    response = table_response(
        ["team", "won", "day"], [["東日本", 12, day], ["西日本", 3.5, None]], "xlsx", "won"
    )
    sheet = load_workbook(io.BytesIO(response.body)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("team", "won", "day")
    assert rows[1][:2] == ("東日本", 12) and rows[1][2] == dt.datetime(2026, 10, 1)
    assert rows[2] == ("西日本", 3.5, None)
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


def test_history_downloads(data_client: TestClient) -> None:
    csv = data_client.get("/api/imports?format=csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbfimport_id,")
    xlsx = data_client.get("/api/imports?format=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    bad = data_client.get("/api/imports?format=pdf")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "KT623"


def test_preview_problems_follow_the_request_language(
    data_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setenv("KPITREE_LANG", "en")  # the server process speaks English
    content = deals_csv([("L-1", today(), "abc")]).encode()
    response = data_client.post(
        "/api/imports/preview",
        files={"file": ("deals.csv", content, "text/csv")},
        data={"mapping": MAPPING},
        headers={"accept-language": "ja"},
    )
    message = response.json()["errors"][0]["message"]
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", message), message


def test_the_preview_page_shows_local_times_amounts_and_attributes_as_columns(
    data_client: TestClient,
) -> None:
    content = deals_csv([("P-1", "11/05/2026", "1200000")]).encode()
    found = preview(data_client, "deals.csv", content).json()
    deals = next(t for t in found["tables"] if t["table"] == "deals")
    raw = dict(zip(deals["columns"], deals["preview"][0], strict=True))
    # The JSON keeps the instant (midnight in Tokyo is 15:00 UTC the day before).
    assert raw["created_at"].startswith("2026-11-04T15:00:00")
    shown = dict(zip(deals["display"]["columns"], deals["display"]["rows"][0], strict=True))
    assert shown["created_at"] == "2026-11-05 00:00"
    assert shown["amount"] == "¥1,200,000"
    assert "attributes" not in shown
    page = data_client.post(
        "/data/preview",
        files={"file": ("deals.csv", content, "application/octet-stream")},
        data={"mapping": MAPPING},
    ).text
    assert "2026-11-05 00:00" in page and "¥1,200,000" in page
    assert "2026-11-04T15:00:00" not in page


def test_preview_attributes_become_columns() -> None:
    from kpitree.web.preview_display import display_table

    shown = display_table(
        ["lead_id", "created_at", "attributes"],
        [
            ["L1", "2026-11-04T15:00:00+00:00", '{"業種": "製造", "score": 30}'],
            ["L2", None, '{"score": 12, "memo": "展示会"}'],
        ],
        "Asia/Tokyo",
        "JPY",
        "ja",
    )
    assert shown["columns"] == ["lead_id", "created_at", "業種", "score", "memo"]
    assert shown["rows"] == [
        ["L1", "2026-11-05 00:00", "製造", "30", ""],
        ["L2", "", "", "12", "展示会"],
    ]
