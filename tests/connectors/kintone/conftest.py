"""A fake kintone domain on loopback with a generated deal-management app, and a
project whose ``sources:`` reads it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.kintone import Domain, serve
from fakes.kintone_company import APP_ID, MAPPING, DealsApp

TOKEN_ENV = "KPITREE_TEST_KINTONE_TOKEN"


@dataclass
class KintoneSetup:
    domain: Domain
    deals: DealsApp
    url: str
    project: Path

    @property
    def env(self) -> dict[str, str]:
        return {TOKEN_ENV: self.deals.token}

    @property
    def warehouse(self) -> Path:
        return self.project / ".kpitree" / "warehouse.duckdb"


def write_project(folder: Path, url: str, app: int = APP_ID, mapping: str = MAPPING) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mappings").mkdir(exist_ok=True)
    (folder / "mappings" / "kintone-deals.yaml").write_text(mapping, encoding="utf-8")
    (folder / "kpitree.yaml").write_text(
        "kpitree: 1\nname: synced\nsources:\n  kintone:\n    type: kintone\n"
        f"    base_url: {url}\n    apps:\n      deals: {{app: {app}, token_env: {TOKEN_ENV}, "
        "mapping: mappings/kintone-deals.yaml}\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def kintone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KintoneSetup]:
    domain = Domain()
    deals = DealsApp(domain, deals=1200)
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    with serve(domain) as url:
        monkeypatch.setenv(TOKEN_ENV, deals.token)
        yield KintoneSetup(domain, deals, url, write_project(tmp_path / "plan", url))


def warehouse_deals(path: Path) -> dict[str, tuple[Any, ...]]:
    """The deals as stored, in the shape of ``DealsApp.truth()``."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT deal_id, strftime(timezone('UTC', created_at), '%Y-%m-%dT%H:%M:%SZ'), "
            "stage, status, CAST(close_date AS VARCHAR), amount, owner_id, account_id, product "
            "FROM deals"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: tuple(r[1:]) for r in rows}
