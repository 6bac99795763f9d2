"""Reps are named as the organisation names them (the ``reps`` table), never
by their source id, in the CLI, the pages, the alerts and the review pack."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpitree import Project
from kpitree.cli import app

from .company import NOW, build
from .conftest import HttpReceiver, SmtpReceiver


@pytest.fixture
def company(tmp_path: Path) -> Path:
    return build(tmp_path)


def test_kpitree_status_by_rep_names_the_reps(company: Path) -> None:
    args = ["status", str(company), "--period", "2026-10", "--as-of", "2026-10-14", "--by", "rep"]
    result = CliRunner().invoke(app, ["--lang", "ja", *args])
    assert result.exit_code == 0, result.output
    assert "担当者: 佐藤" in result.output and "担当者: 鈴木" in result.output
    assert "担当者: r1" not in result.output
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert data["rep_names"] == {"r1": "佐藤", "r2": "鈴木"}
    assert {r["segment"].get("rep") for r in data["rows"]} >= {"r1", "r2"}  # ids stay ids


def test_kpitree_sla_by_owner_names_the_reps(company: Path) -> None:
    args = ["--lang", "ja", "sla", str(company), "--period", "2026-10", "--as-of", "2026-10-14"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "佐藤" in result.output and "鈴木" in result.output


def test_the_node_page_breakdown_by_rep_shows_names(company: Path) -> None:
    from kpitree.web.views.common import DirectSource, PageQuery
    from kpitree.web.views.node import node_view

    source = DirectSource(Project.load(company), as_of=dt.date(2026, 10, 14))
    query = PageQuery("2026-10", (), "rep", (), "ja")
    view = node_view(source, query, "mqls")
    labels = {row["value"]: row["label"] for row in view["breakdown"]["rows"]}
    assert labels["r1"] == "佐藤" and labels["r2"] == "鈴木"


def test_two_reps_with_one_name_keep_their_ids(tmp_path: Path) -> None:
    from kpitree.compute.people import rep_names
    from kpitree.engines import open_engine

    with open_engine("duckdb://") as engine:
        import pyarrow as pa

        from kpitree.data.schema import arrow_schema
        from kpitree.engines import load_canonical

        schema = arrow_schema("reps")
        rows = [
            {"rep_id": "R1", "name": "佐藤 花子"},
            {"rep_id": "R2", "name": "佐藤 花子"},
            {"rep_id": "R3", "name": " 鈴木 一郎 "},
            {"rep_id": "R4", "name": "  "},
        ]
        full = [{c: r.get(c) for c in schema.names} for r in rows]
        load_canonical(engine, {"reps": pa.Table.from_pylist(full, schema=schema)})
        assert rep_names(engine) == {
            "R1": "佐藤 花子 (R1)",
            "R2": "佐藤 花子 (R2)",
            "R3": "鈴木 一郎",
        }


def test_alert_messages_name_the_rep(
    company: Path, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    from .test_semantics import FIRST_TOUCH, project_with

    project = project_with(company, http_receiver.port, smtp_receiver.port, FIRST_TOUCH)
    run = project.alerts_run(now=NOW)
    assert len(run.events) == 2
    texts = [m.get_body(("plain",)).get_content() for m in smtp_receiver.messages]
    assert any("担当者: 佐藤" in text for text in texts)
    assert not any("担当者: r1" in text for text in texts)
    body = http_receiver.to("/hook")[0].json()
    assert body["segment"]["rep"] in ("r1", "r2")  # ids stay ids in the JSON
    assert "担当者: 佐藤" in body["message"] or "担当者: 鈴木" in body["message"]
