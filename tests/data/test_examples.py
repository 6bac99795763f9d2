"""The example projects' mappings import the shared data sets exactly as published;
every count is checked against the source files read independently."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest

from kpitree.data.mapping import load_mapping
from kpitree.data.readers import read_and_map

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
OLIST = SHARED / "olist-marketing-funnel"
MAVEN = SHARED / "maven-crm-sales-opportunities"


@pytest.fixture(scope="module", autouse=True)
def _shared_data() -> None:
    if not SHARED.is_dir():
        pytest.fail(f"the shared data sets are missing: {SHARED}")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _import(example: str, mapping: str, data: Path) -> object:
    folder = REPO / "examples" / example
    # The example references the data by a path relative to its own folder.
    rel = f"../../../shared/data/{data.parent.name}/{data.name}"
    assert (folder / rel).resolve() == data.resolve()
    return read_and_map(folder / rel, load_mapping(folder / "mappings" / f"{mapping}.yaml"))


def test_olist_mqls() -> None:
    path = OLIST / "olist_marketing_qualified_leads_dataset.csv"
    source = _rows(path)
    assert len(source) == 8000
    batch = _import("olist", "mqls", path)
    assert batch.rejects == []
    leads = batch.tables["leads"]
    assert batch.rows_read == leads.num_rows == 8000
    assert set(leads.column("lead_id").to_pylist()) == {r["mql_id"] for r in source}
    channels = Counter(leads.column("channel").to_pylist())
    assert channels == Counter(r["origin"] or None for r in source)
    assert channels[None] == 60 and channels["unknown"] == 1099
    assert batch.tables["lead_stage_history"].num_rows == 8000


def test_olist_closed_deals() -> None:
    path = OLIST / "olist_closed_deals_dataset.csv"
    source = _rows(path)
    assert len(source) == 842
    batch = _import("olist", "closed_deals", path)
    assert batch.rejects == []
    deals = batch.tables["deals"]
    assert deals.num_rows == 842
    mqls = {r["mql_id"] for r in _rows(OLIST / "olist_marketing_qualified_leads_dataset.csv")}
    assert set(deals.column("lead_id").to_pylist()) <= mqls
    assert set(deals.column("status").to_pylist()) == {"won"}
    assert set(deals.column("currency").to_pylist()) == {"BRL"}
    assert batch.tables["lead_stage_history"].num_rows == 842
    reps = {r["sdr_id"] for r in source} | {r["sr_id"] for r in source}
    assert set(batch.tables["reps"].column("rep_id").to_pylist()) == reps
    segments = Counter(pc.cast(deals.column("attributes"), "string").to_pylist())
    assert sum(segments.values()) == 842


def test_maven_pipeline() -> None:
    path = MAVEN / "sales_pipeline.csv"
    assert path.read_bytes().count(b"\r\n") == 8801  # CRLF, as published
    source = _rows(path)
    batch = _import("maven", "sales_pipeline", path)
    assert batch.rejects == []
    deals = batch.tables["deals"]
    assert deals.num_rows == len(source) == 8800
    assert Counter(deals.column("stage").to_pylist()) == Counter(
        {"won": 4238, "lost": 2473, "engaging": 1589, "prospecting": 500}
    )
    assert Counter(deals.column("status").to_pylist()) == Counter(
        {"won": 4238, "lost": 2473, "open": 2089}
    )
    assert deals.column("account_id").null_count == 1425
    assert "GTXPro" not in set(deals.column("product").to_pylist())
    won = pc.equal(deals.column("status"), "won")
    assert pc.sum(pc.filter(deals.column("amount"), won)).as_py() == sum(
        float(r["close_value"]) for r in source if r["deal_stage"] == "Won"
    )
    history = Counter(batch.tables["deal_stage_history"].column("stage").to_pylist())
    assert history == Counter({"engaging": 8300, "won": 4238, "lost": 2473})
    assert batch.tables["reps"].num_rows == len({r["sales_agent"] for r in source}) == 30


def test_maven_accounts_and_teams() -> None:
    batch = _import("maven", "accounts", MAVEN / "accounts.csv")
    accounts = batch.tables["accounts"]
    assert batch.rejects == [] and accounts.num_rows == len(_rows(MAVEN / "accounts.csv")) == 85
    assert "technolgy" not in set(accounts.column("industry").to_pylist())
    teams = _import("maven", "sales_teams", MAVEN / "sales_teams.csv")
    assert teams.tables["reps"].num_rows == len(_rows(MAVEN / "sales_teams.csv")) == 35
    assert set(teams.tables["rep_assignments"].column("region").to_pylist()) == {
        "Central",
        "East",
        "West",
    }


def test_example_projects_are_complete() -> None:
    for example in ("olist", "maven"):
        folder = REPO / "examples" / example
        assert (folder / "README.md").is_file()
        assert (folder / "kpitree.yaml").read_text(encoding="utf-8").startswith("kpitree: 1\n")
        assert not list(folder.rglob("*.csv")), "data files must not be copied into the repo"
