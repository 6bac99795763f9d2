"""The data-quality section of a monthly review pack, on the company of
tests/data/quality_company.py whose findings are known by construction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kpitree.project import Project
from kpitree.reports.build import build_report
from kpitree.reports.layout import layout

from .quality_company import AS_OF, build_company, cli_runner


@pytest.fixture
def kpitree(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KPITREE_LANG", "en")
    return cli_runner(capsys)


def test_a_monthly_pack_lists_the_findings_with_records_and_nodes(
    tmp_path: Path, kpitree: Any
) -> None:
    folder = build_company(tmp_path, kpitree)
    cli = kpitree("data", "check", str(folder), "--as-of", AS_OF, "--json").json()
    project = Project.load(folder)
    as_of = dt.date.fromisoformat(AS_OF)
    report = build_report(project, "2026-06", "monthly", as_of=as_of, lang="en")
    # A pack for a past day leaves out the rules about the present.
    expected = [
        (f["code"], f["table"], f["count"], ", ".join(f["examples"]))
        for f in cli["findings"]
        if f["rule"] not in ("in_future", "stale_source")
    ]
    assert expected  # by construction: stage skips, backwards histories, no amount, ...
    got = [(q.code, q.table, q.count, q.examples) for q in report.quality.lines]
    assert got == expected
    section = next(s for s in layout(report) if s.id == "quality")
    rows = section.table("quality").rows
    assert [r[3].value for r in rows] == [float(c) for _, _, c, _ in expected]
    no_amount = next(q for q in report.quality.lines if q.code == "KT845")
    assert no_amount.nodes == ", ".join(
        project.tree.nodes[n].display("en") for n in ("avg_deal_size", "new_revenue")
    )
    weekly = build_report(project, "2026-W26", "weekly", as_of=as_of, lang="en")
    assert not weekly.quality.included
    assert all(s.id != "quality" for s in layout(weekly))


def test_kpitree_check_fails_on_findings_when_asked(tmp_path: Path, kpitree: Any) -> None:
    folder = build_company(tmp_path, kpitree)
    before = kpitree("check", str(folder), "--json").json()
    assert not any(d["code"] == "KT863" for d in before["diagnostics"])  # off by default
    today = Project.load(folder).today().isoformat()
    cli = kpitree("data", "check", str(folder), "--as-of", today, "--json").json()
    text = (folder / "kpitree.yaml").read_text(encoding="utf-8")
    for level, levels in (("error", {"error"}), ("warning", {"error", "warning"})):
        config = text.replace("\ndata:\n", f"\ndata:\n  quality: {{check: {level}}}\n")
        if config == text:
            config = text + f"\ndata:\n  quality: {{check: {level}}}\n"
        (folder / "kpitree.yaml").write_text(config, encoding="utf-8")
        done = kpitree("check", str(folder), "--json")
        found = [d for d in done.json()["diagnostics"] if d["code"] == "KT863"]
        expected = [f for f in cli["findings"] if f["level"] in levels]
        assert len(found) == len(expected) > 0, level
        assert done.code == 1
        for d, f in zip(found, expected, strict=True):
            assert f"({f['code']}, {f['table']})" in d["message"]
            assert f"{f['count']} records" in d["message"]
