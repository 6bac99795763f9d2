"""The actions page (/actions) on the planted company: open and closed
actions with their outcome, the filters, the downloads, the empty state and
the editors' upload of a filled review pack."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from kpitree.web.users import UserStore

from .test_actions_cli import _fill

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

PASSWORD = "correct-horse-42"
EN = {"Accept-Language": "en"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def client(planted: Path) -> Iterator[TestClient]:
    with closing(TestClient(create_app(planted), base_url="http://localhost", headers=EN)) as c:
        yield c


def _token(client: TestClient) -> str:
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def _add(client: TestClient, **body: str) -> int:
    answer = client.post("/api/actions", json=body, headers={"X-CSRF-Token": _token(client)})
    assert answer.status_code == 201, answer.text
    found: int = answer.json()["id"]
    return found


def _pack(planted: Path) -> bytes:
    from kpitree.project import Project
    from kpitree.reports import build_report, render

    report = build_report(Project.load(planted), "2025-11", lang="ja", as_of=dt.date(2025, 11, 30))
    return render(report, "xlsx")


def test_the_empty_page_says_what_to_do_next(client: TestClient) -> None:
    page = client.get("/actions")
    assert page.status_code == 200
    assert 'data-testid="actions-empty"' in page.text and "upload a review pack" in page.text
    assert 'data-nav="actions"' in page.text and 'aria-current="page"' in page.text
    ja = client.get("/actions", headers={"Accept-Language": "ja"}).text
    assert "施策はまだありません" in ja
    assert 'href="/actions"' in client.get("/nodes/leads").text  # in the navigation


def test_open_and_closed_actions_with_filters_and_downloads(client: TestClient) -> None:
    from openpyxl import load_workbook

    met = _add(client, node="mql_rate", owner="IS 田中", description="call script",
               expected_effect="+5pt", start="2025-10-01", due="2025-11-30")  # fmt: skip
    running = _add(client, node="leads", owner="web", description="LP <b>test</b>",
                   expected_effect="+10%", due="2099-03-31", segment="team=east")  # fmt: skip
    closed = client.post(
        f"/api/actions/{met}/done", json={"note": "kept"}, headers={"X-CSRF-Token": _token(client)}
    )
    assert closed.status_code == 200
    page = client.get("/actions").text
    assert f'data-action="{running}" data-state="in_progress"' in page  # started today
    assert f'data-action="{met}" data-state="met"' in page
    closed_part = page.split('data-testid="closed-actions"')[1]
    assert "Met" in closed_part and "kept" in closed_part and "call script" in closed_part
    assert "LP &lt;b&gt;test&lt;/b&gt;" in page and "team=east" in page
    only_open = client.get("/actions", params={"status": "open"}).text
    assert (
        'data-testid="closed-actions"' not in only_open and f'data-action="{running}"' in only_open
    )
    by_owner = client.get("/actions", params={"owner": "IS 田中"}).text
    assert f'data-action="{met}"' in by_owner and f'data-action="{running}"' not in by_owner
    by_node = client.get("/actions", params={"node": "leads"}).text
    assert f'data-action="{running}"' in by_node and f'data-action="{met}"' not in by_node
    refused = client.get("/actions", params={"status": "closed"})
    assert refused.status_code == 400 and "KT270" in refused.text and "?status=" in refused.text
    csv = client.get("/actions", params={"format": "csv", "status": "done"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,node,node_name") and len(lines) == 2 and ",met," in lines[1]
    xlsx = client.get("/actions", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 3  # the header and both actions
    twin = client.get("/api/actions", params={"all": "true"}).json()
    assert {a["id"] for a in twin} == {met, running}


def test_a_filled_pack_is_uploaded_on_the_page(client: TestClient, planted: Path) -> None:
    pack = _pack(planted)
    csrf = _token(client)
    wrong = _fill(pack, [["", "leeds", "", "web", "LP", "+10%", "2027-01"]])
    refused = client.post(
        "/actions/import", files={"file": ("会議.xlsx", wrong, XLSX)}, data={"csrf_token": csrf}
    )
    assert refused.status_code == 400
    assert 'data-testid="import-problems"' in refused.text and "did you mean" in refused.text
    # Located in the upload (name, sheet, row, column), never in a temporary folder.
    assert re.search(r"会議\.xlsx\S*:\d+:\d+: KT214", refused.text), refused.text
    assert "kpitree-upload-" not in refused.text and "/tmp/" not in refused.text
    assert client.get("/api/actions?all=true").json() == []
    filled = _fill(pack, [["", "MQL化率", "", "IS 田中", "架電スクリプト", "+3pt", "2027-01"]])
    done = client.post(
        "/actions/import", files={"file": ("会議.xlsx", filled, XLSX)}, data={"csrf_token": csrf}
    )
    assert done.status_code == 200, done.text
    assert 'data-testid="import-created"' in done.text and "No. 1" in done.text
    assert 'data-action="1"' in done.text and "架電スクリプト" in done.text
    no_token = client.post("/actions/import", files={"file": ("会議.xlsx", filled, XLSX)})
    assert no_token.status_code == 403


def test_viewers_read_and_editors_upload(planted: Path) -> None:
    store = UserStore(planted)
    store.add("admin", "admin", PASSWORD)
    store.add("viewer", "viewer", PASSWORD)
    store.add("editor", "editor", PASSWORD)
    filled = _fill(_pack(planted), [["", "calls", "", "IS 鈴木", "架電数増", "+20%", "2027-02"]])
    for name, status in (("viewer", 403), ("editor", 200)):
        with closing(TestClient(create_app(planted), base_url="http://localhost", headers=EN)) as c:
            anonymous = c.get("/actions", follow_redirects=False)
            assert anonymous.status_code == 303
            c.post(
                "/login",
                data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": _token(c)},
                follow_redirects=False,
            )
            page = c.get("/actions")
            assert page.status_code == 200
            assert ('data-testid="import-form"' in page.text) is (name == "editor")
            answer = c.post(
                "/actions/import",
                files={"file": ("pack.xlsx", filled, XLSX)},
                data={"csrf_token": _token(c)},
            )
            assert answer.status_code == status, answer.text


def _bomb() -> bytes:
    """A workbook whose sheet inflates 1,000 times past its compressed size."""
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    plain = io.BytesIO()
    book.save(plain)
    sheet = b"<worksheet><sheetData>" + b"<row></row>" * 1_000_000 + b"</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for part in src.infolist():
            dst.writestr(part.filename, sheet if "sheet1" in part.filename else src.read(part))
    return out.getvalue()


@pytest.mark.parametrize("path", ["/actions/import", "/api/actions/import"])
def test_a_pack_upload_follows_the_upload_rules(
    client: TestClient, planted: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = {"csrf_token": _token(client)}

    def post(name: str, data: bytes) -> tuple[int, str]:
        answer = client.post(path, files={"file": (name, data, XLSX)}, data=csrf)
        return answer.status_code, answer.text

    status, text = post("bomb.xlsx", _bomb())
    assert status == 400 and "KT390" in text and "sheet1.xml" in text
    status, text = post("pack.exe", b"MZ")
    assert status == 400 and "KT615" in text
    import kpitree.review.sheet_files as sheet_files

    monkeypatch.setattr(sheet_files, "MAX_ROWS", 5)
    status, text = post("long.xlsx", _pack(planted))
    assert status == 400 and "KT221" in text
    monkeypatch.undo()
    import kpitree.web.imports as web_imports

    monkeypatch.setattr(web_imports, "MAX_UPLOAD_BYTES", 1000)
    status, text = post("big.xlsx", _pack(planted))
    assert status == 413 and "KT614" in text
    monkeypatch.undo()
    assert client.get("/api/actions?all=true").json() == []
    # A name with folders in it is only a name: the pack is read and imported.
    filled = _fill(
        _pack(planted), [["", "MQL化率", "", "IS 田中", "架電スクリプト", "+3pt", "2027-01"]]
    )
    status, text = post("../../etc/会議.xlsx", filled)
    assert status == 200, text
    assert [a["owner"] for a in client.get("/api/actions?all=true").json()] == ["IS 田中"]
