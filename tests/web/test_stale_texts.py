"""The texts of the notice a page shows when its refresh fails (kpitree.js reads
them from ``#kt-live-text``) are the catalogs', in the page's language: every key
the script names is there, none is left as its key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

SCRIPT = Path(__file__).resolve().parents[2] / "src" / "kpitree" / "web" / "static" / "kpitree.js"


def _texts(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="kt-live-text">(.*?)</script>', html)
    assert found, "the page has no #kt-live-text"
    texts: dict[str, str] = json.loads(found.group(1))
    return texts


@pytest.mark.parametrize(
    ("lang", "since"),
    [
        ("ja", "このページの数値は {at} から更新されていません。"),
        ("en", "have not been updated since {at}"),
    ],
)
def test_the_notice_texts_are_the_catalogs_in_the_pages_language(
    client: TestClient, lang: str, since: str
) -> None:
    page = client.get(f"/?lang={lang}")
    assert page.status_code == 200
    texts = _texts(page.text)
    named = set(re.findall(r'"(web\.live\.stale\.\w+)"', SCRIPT.read_text(encoding="utf-8")))
    assert named and named <= set(texts), named - set(texts)
    assert all(value != key for key, value in texts.items())
    assert since in texts["web.live.stale.since"]
    assert "{seconds}" in texts["web.live.stale.retry_in"]
