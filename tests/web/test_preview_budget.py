"""The web preview parses uploads in a child process under the import limits and
a time and memory budget: a bomb is refused, a stuck preview is stopped, and the
server answers other requests all the while."""

from __future__ import annotations

import io
import multiprocessing
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from kpitree.errors import UserError
from kpitree.project import Project
from kpitree.web import imports
from kpitree.web.app import create_app

EN = {"accept-language": "en"}
MAPPING = "salesforce-opportunities"


@pytest.fixture
def client(demo_copy: Path) -> Iterator[TestClient]:
    with closing(TestClient(create_app(demo_copy), base_url="http://localhost", headers=EN)) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
        yield c


def bomb_xlsx() -> bytes:
    """A real workbook whose sheet inflates about a thousand times its size."""
    wb = openpyxl.Workbook()
    wb.active.append(["Opportunity ID", "Created Date", "Stage"])
    plain = io.BytesIO()
    wb.save(plain)
    row = '<row><c t="inlineStr"><is><t>' + "A" * 200 + "</t></is></c></row>"
    sheet = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    sheet += "<sheetData>" + row * 100_000 + "</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for part in src.infolist():
            data = sheet.encode() if part.filename.endswith("sheet1.xml") else src.read(part)
            dst.writestr(part.filename, data)
    return out.getvalue()


def test_a_bomb_preview_is_refused_without_inflating(client: TestClient) -> None:
    content = bomb_xlsx()
    assert len(content) < 200_000
    started = time.monotonic()
    answer = client.post(
        "/api/imports/preview",
        files={"file": ("bomb.xlsx", content, "application/octet-stream")},
        data={"mapping": MAPPING},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert "KT390" in str(body) and "decompression bomb" in str(body)
    assert time.monotonic() - started < 30
    assert client.get("/api/mappings").status_code == 200


def test_the_server_answers_while_a_preview_is_stuck_then_stops_it(
    client: TestClient, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_PREVIEW_SECONDS", "8")
    fifo = tmp_path / "upload-id-0123456789" / "stuck.csv"
    fifo.parent.mkdir()
    os.mkfifo(fifo)  # nobody ever writes: reading it blocks until the child is killed
    upload = imports.Upload("upload-id-0123456789", fifo)
    project = Project.load(demo_copy)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            imports.preview(project, upload, MAPPING, lang="en")
        except UserError as exc:
            outcome["error"] = exc
        outcome["done"] = time.monotonic()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert multiprocessing.active_children(), "the preview child never started"
    assert client.get("/api/mappings").status_code == 200
    answered = time.monotonic()
    worker.join(120)
    assert not worker.is_alive()
    assert answered < outcome["done"]
    assert outcome["error"].diagnostics[0].code == "KT391"
    assert "stuck.csv" in outcome["error"].diagnostics[0].message("en")
    assert multiprocessing.active_children() == []


def test_a_preview_over_its_memory_budget_is_stopped(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_PREVIEW_MEMORY_MB", "1")
    content = b"Opportunity ID,Created Date,Stage\nD1,2026/01/07,Closed Won\n"
    answer = client.post(
        "/api/imports/preview",
        files={"file": ("deals.csv", content, "text/csv")},
        data={"mapping": MAPPING},
    )
    assert answer.status_code == 400 and "KT392" in str(answer.json())
    assert multiprocessing.active_children() == []


def test_a_mac_csv_previews(client: TestClient) -> None:
    content = (
        b"Opportunity ID,Opportunity Name,Created Date,Close Date,Amount,Stage\r"
        b"D1,Deal,2026/01/07,2026/01/07,100,Closed Won\r"
    )
    answer = client.post(
        "/api/imports/preview",
        files={"file": ("mac.csv", content, "text/csv")},
        data={"mapping": MAPPING},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows_read"] == 1
