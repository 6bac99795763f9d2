"""A company's own source columns as dimensions (a mapping's ``dimensions:``):
grouped and filtered counts equal an independent count over the file."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpitree.cli import main

PROJECT = """\
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
  product_line: {table: deals, column: [製品名, 製品], label: 製品}
"""

AGENCIES = ["東京代理店", "大阪パートナーズ", " 東京代理店 ", "", "名古屋商事"]
PRODUCTS = ["Basic", "Pro", "Enterprise"]


def _deals(seed: int = 7, n: int = 120) -> str:
    rnd = random.Random(seed)
    lines = ["商談ID,作成日,完了日,金額,フェーズ,担当者,代理店,製品"]
    for i in range(n):
        month = rnd.choice([4, 5, 6])
        day = rnd.randint(1, 28)
        phase = rnd.choice(["提案", "受注", "受注", "失注"])
        close = f"2026/{month:02d}/{min(day + 2, 28):02d}" if phase != "提案" else ""
        amount = rnd.choice([100000, 250000, 400000])
        agency, product = rnd.choice(AGENCIES), rnd.choice(PRODUCTS)
        lines.append(
            f"D{i:03d},2026/{month:02d}/{day:02d},{close},{amount},{phase},R{i % 3},"
            f"{agency},{product}"
        )
    return "\n".join(lines) + "\n"


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["--lang", "en", *map(str, args)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "kpitree.yaml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "deals.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(_deals(), encoding="utf-8")
    code, _, err = run(
        capsys, "import", tmp_path / "deals.csv", "-m", tmp_path / "deals.yaml", "-p", tmp_path
    )
    assert code == 0, err
    return tmp_path


def _source(folder: Path) -> pd.DataFrame:
    """The independent reading: pandas over the file, the agency trimmed."""
    df = pd.read_csv(folder / "deals.csv", dtype=str, keep_default_na=False)
    df["agency"] = [a.strip() for a in df["代理店"]]  # "" for a blank cell
    df["month"] = df["作成日"].str[:7]
    return df


def _rows(out: str, node: str) -> dict[Any, float]:
    return {
        tuple(sorted(r["segment"].items())): r["actual"]
        for r in json.loads(out)["rows"]
        if r["node"] == node and r["segment"]
    }


def test_grouped_by_a_custom_dimension_equals_an_independent_count(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "status",
        folder,
        "-p",
        "2026-05",
        "--by",
        "agency",
        "--json",
        "--as-of",
        "2026-06-30",
    )
    assert code == 0, err
    df = _source(folder)
    may = df[df["month"] == "2026/05"]
    expected = Counter(a or None for a in may["agency"])
    got = _rows(out, "opportunities")
    assert got == {(("agency", a),): float(n) for a, n in expected.items()}
    assert (("agency", None),) in got  # a blank cell is its own segment, never dropped


def test_filtered_by_a_custom_dimension_equals_an_independent_count(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "status",
        folder,
        "-p",
        "2026-Q1",
        "--where",
        "agency=東京代理店",
        "--json",
        "--as-of",
        "2026-06-30",
    )
    assert code == 0, err
    df = _source(folder)
    df = df[df["agency"] == "東京代理店"]
    rows = {r["node"]: r["actual"] for r in json.loads(out)["rows"] if not r["segment"]}
    assert rows["opportunities"] == len(df)
    won = df[(df["フェーズ"] == "受注")]
    assert rows["won_deals"] == len(won)
    assert rows["revenue"] == pytest.approx(won["金額"].astype(float).sum())


def test_two_custom_dimensions_together(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "status",
        folder,
        "-p",
        "2026-06",
        "--by",
        "product_line",
        "--where",
        "agency=大阪パートナーズ",
        "--json",
    )
    assert code == 0, err
    df = _source(folder)
    df = df[(df["agency"] == "大阪パートナーズ") & (df["month"] == "2026/06")]
    expected = Counter(df["製品"].tolist())
    got = _rows(out, "opportunities")
    assert {k[0][1]: v for k, v in got.items()} == {p: float(n) for p, n in expected.items()}


def test_an_unknown_dimension_suggests_the_custom_one(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", folder, "-p", "2026-05", "--by", "agncy")
    assert code == 1
    assert "did you mean 'agency'" in err
    assert "Traceback" not in err


def test_undo_removes_the_values_and_a_new_declaration_applies_to_stored_rows(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "imports", "undo", "1", "-p", folder)
    assert code == 0, err
    code, out, err = run(capsys, "status", folder, "-p", "2026-05", "--by", "agency", "--json")
    assert code == 0, err
    assert _rows(out, "opportunities") == {}
    # The same file again with another dimension: rows unchanged, values built.
    mapping = MAPPING.replace("  agency:", "  owner_code: {column: 担当者}\n  agency:")
    (folder / "deals2.yaml").write_text(mapping, encoding="utf-8")
    code, _, err = run(
        capsys, "import", folder / "deals.csv", "-m", folder / "deals2.yaml", "-p", folder
    )
    assert code == 0, err
    code, _, err = run(
        capsys, "import", folder / "deals.csv", "-m", folder / "deals2.yaml", "-p", folder
    )
    assert code == 0, err
    code, out, err = run(capsys, "status", folder, "-p", "2026-05", "--by", "owner_code", "--json")
    assert code == 0, err
    may = _source(folder)
    may = may[may["month"] == "2026/05"]
    expected = Counter(may["担当者"].tolist())
    assert _rows(out, "opportunities") == {
        (("owner_code", o),): float(n) for o, n in expected.items()
    }


def test_mapping_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = MAPPING.replace(
        "  product_line: {table: deals,",
        "  team: {column: X}\n  product_line: {table: dels,",
    )
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(_deals(n=3), encoding="utf-8")
    code, _, err = run(
        capsys, "import", tmp_path / "deals.csv", "-m", tmp_path / "bad.yaml", "-p", tmp_path
    )
    assert code == 1
    assert "bad.yaml:13:3: error: 'team' cannot be a dimension's name" in err, err
    assert "bad.yaml:14:25: error: dimension 'product_line'" in err, err
    assert "did you mean 'deals'" in err


def test_a_missing_column_names_the_closest_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "deals.yaml").write_text(
        MAPPING.replace("column: 代理店", "column: 代理店名"), encoding="utf-8"
    )
    (tmp_path / "deals.csv").write_text(_deals(n=3), encoding="utf-8")
    code, _, err = run(
        capsys, "import", tmp_path / "deals.csv", "-m", tmp_path / "deals.yaml", "-p", tmp_path
    )
    assert code == 1
    assert "deals.yaml:12:11: error:" in err and "(needed for dimensions.agency)" in err, err
    assert "(closest header in the file: '代理店')" in err


@pytest.mark.parametrize(
    "engine_name", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_same_counts_on_duckdb_and_postgres(
    folder: Path, engine_name: str, request: pytest.FixtureRequest
) -> None:
    from kpitree.compute.measure import measure
    from kpitree.compute.periods import parse_period
    from kpitree.engines import copy_warehouse, open_engine
    from kpitree.project import Project

    project = Project.load(folder)
    months = [parse_period(m) for m in ("2026-04", "2026-05", "2026-06")]
    if engine_name == "duckdb":
        opened = project.engine()
    else:
        url = request.getfixturevalue("postgres_url")
        copy_warehouse(project.warehouse_target, url)
        opened = open_engine(url, timezone=project.tree.timezone)
    with opened as engine:
        level = ("agency", "product_line")
        frame = measure(
            engine,
            project.catalogue,
            ["opportunities"],
            months,
            [level],
            filters={"agency": ["東京代理店", None]},
        )[level]
    got = {
        (months[int(r["period"])].key, r["dim__agency"], r["dim__product_line"]): r["opportunities"]
        for _, r in frame.iterrows()
        if r["opportunities"]
    }
    df = _source(folder)
    df = df[df["agency"].isin(["東京代理店", ""])]
    expected = Counter(
        (m.replace("/", "-"), a or None, p)
        for m, a, p in zip(df["month"], df["agency"], df["製品"], strict=True)
    )
    assert {k: float(v) for k, v in expected.items()} == {
        (k[0], None if k[1] is None or k[1] != k[1] else k[1], k[2]): v for k, v in got.items()
    }


def test_pages_break_down_and_filter_by_a_custom_dimension(folder: Path) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    df = _source(folder)
    may = df[df["month"] == "2026/05"]
    with closing(TestClient(create_app(folder), base_url="http://localhost")) as client:
        params = {"period": "2026-05", "lang": "en", "by": "agency"}
        view = client.get("/api/nodes/opportunities", params=params).json()
        rows = {r["value"]: r["actual"] for r in view["breakdown"]["rows"]}
        assert rows == {a or None: float(n) for a, n in Counter(may["agency"]).items()}
        assert {"id": "agency", "label": "Agency"} in view["filter_choices"]["custom"]
        filtered = {"period": "2026-05", "lang": "en", "agency": "名古屋商事"}
        tree = client.get("/api/tree", params=filtered).json()
        assert tree["nodes"]["opportunities"]["actual"] == float(
            (may["agency"] == "名古屋商事").sum()
        )
        page = client.get("/nodes/opportunities", params=params)
        assert page.status_code == 200
        assert '<option value="agency" selected>Agency</option>' in page.text
        assert 'data-testid="filter-agency"' in page.text


def test_an_alert_watches_each_value_of_a_custom_dimension(folder: Path) -> None:
    import datetime as dt

    from kpitree.alerts.evaluate import evaluate_rules
    from kpitree.project import Project

    text = (folder / "kpitree.yaml").read_text(encoding="utf-8")
    text += "alerts:\n  per_agency: "
    text += "{node: opportunities, condition: change, threshold: 1, by: agency}\n"
    (folder / "kpitree.yaml").write_text(text, encoding="utf-8")
    project = Project.load(folder)
    now = dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC)
    problems: list[Any] = []
    findings = evaluate_rules(project, project.tree.alerts, now, problems)
    assert problems == []
    may = _source(folder)
    may = may[may["month"] == "2026/05"]
    assert {f.segment for f in findings if f.rule == "per_agency"} == {
        (("agency", a or None),) for a in set(may["agency"])
    }


def test_a_target_file_sets_targets_per_custom_dimension_value(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (folder / "kpitree.yaml").read_text(encoding="utf-8")
    (folder / "kpitree.yaml").write_text(text + "data:\n  targets: [targets.csv]\n", "utf-8")
    (folder / "targets.csv").write_text(
        "node,period,agency,target\nopportunities,2026-05,東京代理店,40\n", encoding="utf-8"
    )
    code, out, err = run(capsys, "status", folder, "-p", "2026-05", "--by", "agency", "--json")
    assert code == 0, err
    rows = {
        r["segment"].get("agency"): r["target"]
        for r in json.loads(out)["rows"]
        if r["node"] == "opportunities" and r["segment"]
    }
    assert rows["東京代理店"] == 40


def test_records_follow_a_custom_dimension_filter(folder: Path) -> None:
    """A count's records, its download and its page under a custom-dimension
    filter list as many rows as the filtered count (and as the file holds)."""
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    df = _source(folder)
    chosen = df[(df["month"] == "2026/05") & (df["agency"] == "名古屋商事")]
    expected = len(chosen)
    assert 0 < expected < int((df["month"] == "2026/05").sum())
    params = {"period": "2026-05", "lang": "en", "agency": "名古屋商事"}
    with closing(TestClient(create_app(folder), base_url="http://localhost")) as client:
        tree = client.get("/api/tree", params=params).json()
        assert tree["nodes"]["opportunities"]["actual"] == expected
        got = client.get("/api/records/opportunities", params=params).json()
        assert got["count"] == expected
        assert {row["values"]["deal_id"] for row in got["rows"]} == set(chosen["商談ID"])
        csv = client.get("/api/records/opportunities", params={**params, "format": "csv"})
        assert csv.status_code == 200
        assert len(csv.text.strip().splitlines()) == expected + 1  # and the header
        page = client.get("/records/opportunities", params=params)
        assert page.status_code == 200
