"""Query results kept on disk between commands: a later ``kpitree status`` on
the same data reads them instead of running the SQL and prints the very same
bytes; any change of the definitions, targets, organisation, data or kpitree
version gives the output of a status computed from scratch.

Each command here runs as a new process would: the process-wide query caches
are emptied first, so only what is on disk carries over."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml

import kpitree
from kpitree.cli import main
from kpitree.compute import querycache
from kpitree.data.demo import generate
from kpitree.data.schema import arrow_schema
from kpitree.data.warehouse import Warehouse
from kpitree.engines import Engine
from kpitree.project import Project

STATUS = ["--period", "FY2025", "--by", "department", "--by", "team", "--by", "rep"]
STATUS += ["--as-of", "2026-04-01", "--json"]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    Warehouse(tmp_path / "warehouse.duckdb").bulk_load(generate("tiny", seed=5).tables, label="d")
    definition = Project.init(tmp_path / "project")
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    doc["data"] = {"warehouse": str(tmp_path / "warehouse.duckdb")}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return tmp_path / "project"


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL texts the engines run."""
    texts: list[str] = []
    real = Engine.execute_sql_many

    def spy(self: Engine, sqls: Any) -> Any:
        sqls = list(sqls)
        texts.extend(sqls)
        return real(self, sqls)

    monkeypatch.setattr(Engine, "execute_sql_many", spy)
    yield texts


def status(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``kpitree status --json`` as a new process would run it (nothing kept in
    memory from before)."""
    querycache._CACHES.clear()
    capsys.readouterr()
    try:
        main(["--lang", "en", "status", str(project), *(args or STATUS)])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    out = capsys.readouterr().out
    assert json.loads(out)["rows"]
    return out


def from_scratch(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The same status with nothing cached: SQL compiled and run anew."""
    cache = project / ".kpitree" / "cache"
    for file in [cache / "queries.json", *(cache / "results").glob("*")]:
        file.unlink(missing_ok=True)
    return status(project, capsys, *args)


def results(project: Path) -> list[Path]:
    return sorted((project / ".kpitree" / "cache" / "results").glob("*.arrow"))


def edit(project: Path, change: Any) -> None:
    """Change the definition: ``change`` edits its parsed document in place."""
    definition = project / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text(encoding="utf-8"))
    change(doc)
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")


def won_deal(deal_id: str) -> pa.Table:
    at = dt.datetime(2025, 11, 10, 3, tzinfo=dt.UTC)
    row = {"deal_id": deal_id, "amount": 5e6, "currency": "JPY", "created_at": at,
           "close_date": dt.date(2025, 11, 10), "status": "won", "stage": "closed_won"}  # fmt: skip
    schema = arrow_schema("deals")
    return pa.Table.from_pylist([{c: row.get(c) for c in schema.names}], schema=schema)


def test_a_later_status_reads_the_results_and_prints_the_same(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str]
) -> None:
    first = status(demo, capsys)
    assert len(ran) > 5
    stored = results(demo)
    assert len(stored) >= 5
    ran.clear()
    again = status(demo, capsys)
    assert ran == []  # every result read back
    assert again == first
    assert from_scratch(demo, capsys) == first


def test_a_damaged_result_file_is_computed_again(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str]
) -> None:
    first = status(demo, capsys)
    damaged = results(demo)[0]
    damaged.write_bytes(b"not arrow")
    ran.clear()
    assert status(demo, capsys) == first
    assert len(ran) == 1
    assert damaged.read_bytes() != b"not arrow"  # written again


def test_a_definition_change_computes_the_new_definition(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str]
) -> None:
    before = status(demo, capsys)
    edit(
        demo, lambda doc: doc["nodes"]["opportunity_rate"].update(metric="opportunity_to_won_rate")
    )
    ran.clear()
    after = status(demo, capsys)
    assert ran  # the changed metric's query ran
    assert after != before
    assert after == from_scratch(demo, capsys)


def test_a_target_change_shows_the_new_target(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = status(demo, capsys)
    assert status(demo, capsys) == before
    edit(demo, lambda doc: doc["nodes"]["calls"].update(target={"monthly": 2600}))
    after = status(demo, capsys)
    assert after != before
    assert after == from_scratch(demo, capsys)


def test_an_organisation_change_shows_the_new_organisation(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Project.load(demo).plan_from_history("FY2024", fiscal_year=2025)
    before = status(demo, capsys)

    def reshare(doc: dict[str, Any]) -> None:
        # The first department with two teams splits its targets 80/20 instead.
        for dept in doc["organisation"].values():
            teams = list((dept.get("teams") or {}).values())
            if len(teams) >= 2:
                shares = [0.8, 0.2] + [0.0] * (len(teams) - 2)
                for team, share in zip(teams, shares, strict=True):
                    team["share"] = share
                return
        raise AssertionError("no department with two teams")

    edit(demo, reshare)
    after = status(demo, capsys)
    assert after != before
    assert after == from_scratch(demo, capsys)


def test_new_data_is_counted(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str]
) -> None:
    args = ["--period", "2025-11", "--as-of", "2025-11-18", "--json"]
    before = status(demo, capsys, *args)
    warehouse = demo.parent / "warehouse.duckdb"
    Warehouse(warehouse).bulk_load({"deals": won_deal("D-NEW")}, label="new")
    ran.clear()
    after = status(demo, capsys, *args)
    assert any('"deals"' in sql for sql in ran)
    won = {r["node"]: r["actual"] for r in json.loads(after)["rows"]}["won_deals"]
    assert won == {r["node"]: r["actual"] for r in json.loads(before)["rows"]}["won_deals"] + 1
    assert after == from_scratch(demo, capsys, *args)


def test_a_write_by_another_tool_leaves_the_results_unread(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str]
) -> None:
    before = status(demo, capsys)
    with duckdb.connect(str(demo.parent / "warehouse.duckdb")) as con:  # no version bumped
        con.execute("DELETE FROM deals WHERE status = 'won'")
    ran.clear()
    after = status(demo, capsys)
    assert '"deals"' in " ".join(ran)
    assert after != before
    assert after == from_scratch(demo, capsys)


def test_another_kpitree_version_computes_again(
    demo: Path, capsys: pytest.CaptureFixture[str], ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = status(demo, capsys)
    count = len(ran)
    monkeypatch.setattr(kpitree, "__version__", kpitree.__version__ + ".post1")
    ran.clear()
    assert status(demo, capsys) == first
    assert len(ran) == count  # nothing read back


def test_the_results_folder_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kpitree.compute import resultstore

    monkeypatch.setattr(resultstore, "_MAX_FILES", 3)
    store = resultstore.ResultStore(tmp_path / "results")
    table = pa.table({"x": [1, 2, 3]})
    for i in range(5):
        store.put(f"{i:064x}.arrow", table)
    kept = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len(kept) == 3
    assert store.get(kept[-1]) == table
    assert store.get("f" * 64 + ".arrow") is None


# -- a project with custom dimensions, as a user runs it (fresh processes) ------

_PROBE = """
import json, sys
from kpitree.cli import main
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
heavy = ("ibis", "sqlglot", "pandas")
sys.stderr.write(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""

AGENCIES = """\
kpitree: 1
name: Agencies
fiscal_year: 2026
nodes:
  revenue: {kind: kgi, unit: currency, metric: revenue, formula: won_deals * avg_deal_size}
  won_deals: {unit: count, metric: won_deals}
  avg_deal_size: {unit: currency, metric: avg_deal_size}
  opportunities: {unit: count, metric: opportunities}
"""

MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: 商談ID
    created_at: 作成日
    close_date: {column: 完了日, optional: true}
    amount: 金額
    stage: フェーズ
    status: {column: フェーズ, map: {受注: won, 失注: lost}, else: open}
    owner_id: 担当者
dimensions:
  agency: {column: 代理店, label: {ja: 代理店, en: Agency}}
"""


def _fresh_process(*args: str) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_custom_dimensions_read_back_byte_identical_without_pandas_or_ibis(
    tmp_path: Path,
) -> None:
    (tmp_path / "kpitree.yaml").write_text(AGENCIES, encoding="utf-8")
    (tmp_path / "deals.yaml").write_text(MAPPING, encoding="utf-8")
    lines = ["商談ID,作成日,完了日,金額,フェーズ,担当者,代理店"]
    for i in range(60):
        phase = ["提案", "受注", "失注"][i % 3]
        close = "" if phase == "提案" else f"2026/05/{i % 27 + 1:02d}"
        lines.append(f"D{i},2026/05/{i % 27 + 1:02d},{close},{(i % 4 + 1) * 1e5:.0f},{phase},"
                     f"R{i % 3},{['東京', '大阪', ''][i % 3]}")  # fmt: skip
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "kpitree",
            "import",
            str(tmp_path / "deals.csv"),
            "-m",
            str(tmp_path / "deals.yaml"),
            "-p",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    args = ["status", str(tmp_path), "-p", "2026-05", "--by", "agency", "--as-of", "2026-06-30"]
    args += ["--json"]
    cold, _ = _fresh_process(*args)
    assert results(tmp_path)
    warm, loaded = _fresh_process(*args)
    assert loaded == []
    assert warm == cold
    agencies = {r["segment"].get("agency") for r in json.loads(warm)["rows"] if r["segment"]}
    assert {"東京", "大阪", None} <= agencies
    scratch = tmp_path / ".kpitree" / "cache"
    for file in [scratch / "queries.json", *(scratch / "results").glob("*")]:
        file.unlink()
    assert _fresh_process(*args)[0] == cold
