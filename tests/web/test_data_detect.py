"""The Data page's "detect" flow through its JSON API: an upload with
``mapping=auto`` gets the preset that fits it, or a draft mapping that can be
edited, previewed again and imported (and is then kept in the project)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app

EN = {"accept-language": "en"}


@pytest.fixture
def client(demo_copy: Path) -> Iterator[TestClient]:
    with closing(TestClient(create_app(demo_copy), base_url="http://localhost", headers=EN)) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
        yield c


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def hubspot_ja(n: int) -> bytes:
    rows = [
        [
            "レコードID",
            "名",
            "姓",
            "Eメール",
            "ライフサイクルステージ",
            "作成日",
            "コンタクト担当者",
        ]
    ]
    for i in range(n):
        rows.append(
            [
                str(880_000 + i),
                "花子",
                f"検出{i}",
                f"d{i}@example.jp",
                ["リード", "顧客"][i % 2],
                f"2026-02-{i + 1:02d} 10:00",
                "佐々木 健",
            ]
        )
    return _csv(rows, "utf-8-sig")


def inhouse_deals(n: int) -> bytes:
    rows = [["案件番号", "顧客企業", "営業担当", "進捗", "見込金額", "登録日", "受注予定日"]]
    for i in range(n):
        rows.append(
            [
                f"Z-{i:03d}",
                f"株式会社検出{i % 3}",
                "佐々木",
                ["提案中", "受注", "失注"][i % 3],
                f"{(i + 1) * 1000:,}",
                f"2026/02/{i + 1:02d}",
                f"2026/04/{i + 1:02d}",
            ]
        )
    return _csv(rows, "cp932")


def _preview(client: TestClient, name: str, content: bytes) -> Any:
    return client.post(
        "/api/imports/preview",
        files={"file": (name, content, "application/octet-stream")},
        data={"mapping": "auto"},
    )


def _count(project: Path, sql: str) -> Any:
    with duckdb.connect(str(project / ".kpitree" / "warehouse.duckdb"), read_only=True) as con:
        ((value,),) = con.sql(sql).fetchall()
    return value


def test_auto_finds_the_preset_of_a_japanese_hubspot_export(
    client: TestClient, demo_copy: Path
) -> None:
    answer = _preview(client, "コンタクト.csv", hubspot_ja(7))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["mapping"] == "hubspot-contacts"
    assert found["detected"]["kind"] == "preset"
    assert found["detected"]["fit"]["fits"] is True
    assert {t["table"]: t["rows"] for t in found["tables"]}["leads"] == 7
    done = client.post(
        "/api/imports", json={"upload_id": found["upload_id"], "mapping": found["mapping"]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["import"]["saved_mapping"] is None
    assert _count(demo_copy, "SELECT count(*) FROM leads WHERE lead_id LIKE '88%'") == 7


def test_auto_drafts_a_mapping_that_can_be_edited_and_imported(
    client: TestClient, demo_copy: Path
) -> None:
    answer = _preview(client, "案件.csv", inhouse_deals(9))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["mapping"], found["detected"]["kind"]) == ("draft", "draft")
    assert found["detected"]["closest"]["fits"] is False
    assert found["rejected_rows"] == 0
    draft = found["detected"]["yaml"]
    assert '"受注": won' in draft
    # The user reviews it: 提案中 stays open, and 見込金額 is not an amount to sum.
    edited = draft.replace('    amount: "見込金額"', "    # amount left out")
    again = client.post(f"/api/imports/{found['upload_id']}/draft", json={"yaml": edited})
    assert again.status_code == 200, again.text
    assert again.json()["detected"]["yaml"] == edited
    done = client.post("/api/imports", json={"upload_id": found["upload_id"], "mapping": "draft"})
    assert done.status_code == 200, done.text
    result = done.json()["import"]
    assert result["rows_read"] == 9
    assert result["saved_mapping"] == "mappings/案件.yaml"
    assert (demo_copy / "mappings" / "案件.yaml").read_text(encoding="utf-8") == edited
    assert (
        _count(
            demo_copy,
            "SELECT count(*) FROM deals WHERE deal_id LIKE 'Z-%' "
            "AND status = 'won' AND amount IS NULL",
        )
        == 3
    )
    # The kept mapping is offered for the next export.
    ids = [m["id"] for m in client.get("/api/mappings").json()["mappings"]]
    assert "mappings/案件.yaml" in ids


def test_a_draft_is_refused_when_it_reads_other_files_is_broken_or_lacks_the_token(
    client: TestClient,
) -> None:
    found = _preview(client, "案件.csv", inhouse_deals(3)).json()
    url = f"/api/imports/{found['upload_id']}/draft"
    draft = found["detected"]["yaml"]
    lookup = draft.replace("values:\n", "values:\n  teams: {file: /etc/passwd, key: a, value: b}\n")
    answer = client.post(url, json={"yaml": lookup})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "KT324"
    broken = draft.replace("deal_id:", "deal_idd:", 1)
    answer = client.post(url, json={"yaml": broken})
    assert answer.status_code == 400
    assert "deal_idd" in answer.text and "did you mean" in answer.text
    del client.headers["X-CSRF-Token"]
    assert client.post(url, json={"yaml": draft}).status_code == 403


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000,  # nested past any recursion limit
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        ),
    ],
    ids=["deep", "aliases"],
)
def test_a_draft_that_nests_too_deep_or_expands_too_far_is_refused_with_its_place(
    client: TestClient, text: str
) -> None:
    found = _preview(client, "案件.csv", inhouse_deals(3)).json()
    answer = client.post(f"/api/imports/{found['upload_id']}/draft", json={"yaml": text})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] in ("KT001", "KT042"), error
    assert error["diagnostics"][0]["line"] >= 1, error
    assert error["diagnostics"][0]["file"].endswith("mapping.yaml"), error


def test_importing_a_draft_that_was_never_made_is_a_404(client: TestClient) -> None:
    found = _preview(client, "コンタクト.csv", hubspot_ja(2)).json()
    answer = client.post("/api/imports", json={"upload_id": found["upload_id"], "mapping": "draft"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "KT323"
