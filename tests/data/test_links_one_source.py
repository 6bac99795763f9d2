"""A warehouse whose records all come from one source writes no link row that
could only say ``unmatched`` of a lead (the same person in another source; an
account when none is stored), and everything that reads links still works:
the deal links by id and the cohort conversion they give, ``kpitree data
links``, its page and JSON twin. A second source, or stored accounts, bring
those rows back."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from kpitree import Project
from kpitree.data.warehouse import Warehouse

from .test_links_methods import DEFINITION, _deal, _lead, _load
from .test_links_two_sources import _main

AS_OF = dt.date(2026, 6, 30)
AT = dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC)

CRM = {
    "leads": [_lead("L1"), _lead("L2"), _lead("L3")],
    # L1 and L2 are MQLs of April; L1 became an opportunity through its deal only.
    "lead_stage_history": [
        {"lead_id": "L1", "stage": "mql", "entered_at": AT},
        {"lead_id": "L2", "stage": "mql", "entered_at": AT},
    ],
    "deals": [_deal("D1", lead_id="L1"), _deal("D2")],
}


def _relations(path: str) -> dict[str, dict[str, int]]:
    with duckdb.connect(path, read_only=True) as con:
        rows = con.execute(
            "SELECT relation, status, count(*) FROM kpitree_links GROUP BY ALL"
        ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for relation, status, n in rows:
        out.setdefault(relation, {})[status] = n
    return out


def _folder(project: Project) -> Path:
    return Path(project.warehouse_target).parent


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "kpitree.yaml").write_text(DEFINITION, encoding="utf-8")
    _load(Warehouse(tmp_path / "warehouse.duckdb"), CRM, "crm")
    return Project.load(tmp_path)


def test_one_source_writes_no_lead_row_that_can_only_be_unmatched(project: Project) -> None:
    relations = _relations(str(project.warehouse_target))
    assert "lead_lead" not in relations and "lead_account" not in relations
    # Deal links are written as before: by id, and the deal without a lead.
    assert relations["deal_lead"] == {"linked": 1, "unmatched": 1}
    rate = project.status("2026-04", as_of=AS_OF, compare=False).row("opportunity_rate")
    assert (rate.volume, rate.converted, rate.actual) == (2, 1, 0.5)


def test_pages_and_commands_reading_links_work_with_one_source(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    monkeypatch.setenv("KPITREE_LANG", "en")
    capsys.readouterr()
    assert _main("data", "links", str(_folder(project)), "--json") == 0
    cli = json.loads(capsys.readouterr().out)
    assert [r["relation"] for r in cli["relations"]] == ["deal_lead", "deal_account"]
    assert cli["relations"][0]["unmatched"] == [{"id": "D2", "source": "crm", "label": None}]
    assert _main("data", "links", str(_folder(project))) == 0
    assert "D2" in capsys.readouterr().out
    with closing(
        TestClient(
            create_app(_folder(project)),
            base_url="http://localhost",
            headers={"accept-language": "en"},
        )
    ) as client:
        twin = client.get("/api/data/links")
        fragment = client.get("/data/links")
        page = client.get("/data")
    assert twin.status_code == 200 and twin.json() == cli
    assert fragment.status_code == 200 and page.status_code == 200
    assert "D2" in fragment.text


def test_accounts_or_a_second_source_bring_the_lead_rows_back(project: Project) -> None:
    wh = Warehouse(project.warehouse_target)
    _load(wh, {"accounts": [{"account_id": "A1", "name": "株式会社ワン"}]}, "crm")
    relations = _relations(str(project.warehouse_target))
    assert relations["lead_account"] == {"unmatched": 3}
    assert "lead_lead" not in relations
    _load(wh, {"leads": [_lead("L9")]}, "other")
    relations = _relations(str(project.warehouse_target))
    assert relations["lead_lead"] == {"unmatched": 4}
    assert relations["lead_account"] == {"unmatched": 4}
