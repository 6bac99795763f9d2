"""The Data page's import result names the owners that match no rep of the
organisation, with their facts and the closest known names."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.web.app import create_app
from people import MAPPING, OWNERS, PROJECT


@pytest.mark.slow  # imports run in a child kpitree process
def test_data_page_import_result_lists_unmatched_owners(tmp_path: Path) -> None:
    (tmp_path / "kpitree.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "deals.yaml").write_text(MAPPING, encoding="utf-8")
    lines = ["商談ID,作成日,フェーズ,担当者"]
    lines += [f"D{i},2026/05/{i % 27 + 1:02d},提案,{o}" for i, o in enumerate(OWNERS)]
    content = ("\n".join(lines) + "\n").encode("cp932")
    app = create_app(tmp_path)
    with closing(
        TestClient(app, base_url="http://localhost", headers={"accept-language": "ja"})
    ) as client:
        client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
        found = client.post(
            "/api/imports/preview",
            files={"file": ("商談.csv", content, "text/csv")},
            data={"mapping": "deals.yaml"},
        )
        assert found.status_code == 200, found.text
        page = client.post(
            "/data/import", data={"upload_id": found.json()["upload_id"], "mapping": "deals.yaml"}
        )
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="import-owners"' in html
    assert "組織の担当者と一致しない担当者が 2 人（3 件）います" in html
    assert "担当者 &#39;山田 太朗&#39;（2 件）" in html and "近い名前: 山田　太郎" in html
    assert "担当者 &#39;不明 次郎&#39;（1 件）" in html
    assert "を組織の &#39;佐々木&#39; として数えます" in html
