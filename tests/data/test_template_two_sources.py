"""The project template on a company from two sources: a HubSpot contacts
export from the Japanese UI and a Salesforce opportunity report (Shift_JIS,
footer, no ID column), the files of :mod:`test_links_two_sources`.

- The template's 商談化率 (``opportunity_rate``) is the cohort conversion of
  the month's MQLs to an opportunity within 90 days, following the links: a
  share of its cohort (never above 100%), equal to the count made here from
  the construction. Measured as the old template did (opportunities of the
  month over MQLs of the month), February's is 700%.
- A new user's steps, each a fresh ``kpitree`` process: init, detect the
  preset of each file, import each with it, see the links, check the data,
  read the status: the linked funnel equals the count from the construction.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kpitree import Project

from .test_links_two_sources import (
    AS_OF,
    CONTACTS,
    OPPORTUNITIES,
    _day,
    _expected_cohort,
    _main,
    _write_hubspot,
    _write_salesforce,
)

HUBSPOT_FILE = "hubspot-crm-exports-all-contacts-2026-12-01.csv"
SALESFORCE_FILE = "report1764547200000.csv"
MONTHS = ("2026-01", "2026-02")


def _mqls(month: int) -> int:
    return sum(1 for c in CONTACTS if c.mql and _day(c.mql).month == month)


def _opportunities(month: int) -> int:
    return sum(1 for o in OPPORTUNITIES if _day(o.created).month == month)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template-two-sources")
    Project.init(folder)
    _write_hubspot(folder / HUBSPOT_FILE)
    _write_salesforce(folder / SALESFORCE_FILE)
    for name, mapping in ((HUBSPOT_FILE, "hubspot-contacts"),
                          (SALESFORCE_FILE, "salesforce-opportunities")):  # fmt: skip
        assert _main("import", str(folder / name), "--mapping", mapping, "-p", str(folder)) == 0
    return folder


def test_the_templates_opportunity_rate_is_the_linked_cohort_share(company: Path) -> None:
    result = Project.load(company).status(list(MONTHS), as_of=AS_OF, compare=False)
    for month in (1, 2):
        key = f"2026-{month:02d}"
        entrants, converted = _expected_cohort(month, "opportunity", 90)
        rate = result.row("opportunity_rate", key)
        assert (rate.volume, rate.converted) == (entrants, converted)
        assert rate.actual == pytest.approx(converted / entrants)
        assert 0 <= rate.actual <= 1
        assert result.row("mqls", key).actual == _mqls(month)
        assert result.row("opportunities", key).actual == _opportunities(month)
    # February by construction: one MQL (カッパ), converted; seven opportunities.
    assert _expected_cohort(2, "opportunity", 90) == (1, 1)
    assert (_mqls(2), _opportunities(2)) == (1, 7)
    # The tree explains the measured opportunities: MQLs × the cohort rate, and
    # the rest (opportunities of other cohorts and of no MQL) as reconciliation.
    feb = result.row("opportunities", "2026-02")
    assert feb.reconciliation == pytest.approx(_opportunities(2) - _mqls(2) * 1.0)


def test_the_old_implied_rate_went_above_100_percent(company: Path, tmp_path: Path) -> None:
    """The same data under the template without the metric on 商談化率 (the
    rate implied as opportunities ÷ MQLs of the month): 700% in February."""
    old = tmp_path / "old"
    old.mkdir()
    text = (company / "kpitree.yaml").read_text("utf-8")
    assert "    metric: mql_to_opportunity_rate\n" in text
    (old / "kpitree.yaml").write_text(
        text.replace("    metric: mql_to_opportunity_rate\n", ""), encoding="utf-8"
    )
    (old / ".kpitree").symlink_to(company / ".kpitree")
    result = Project.load(old).status("2026-02", as_of=AS_OF, compare=False)
    rate = result.row("opportunity_rate", "2026-02")
    assert rate.source == "implied"
    assert rate.actual == pytest.approx(_opportunities(2) / _mqls(2)) == 7.0


def _kpitree(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m kpitree ARGS`` as a fresh process, as a user runs it."""
    env = {**os.environ, "KPITREE_LANG": "ja"}
    env.pop("KPITREE_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "kpitree", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.mark.slow
def test_a_new_user_gets_the_linked_funnel_with_the_cli(tmp_path: Path) -> None:
    """init → mappings detect (each file) → import (each, with the preset
    detect named) → data links → data check → status: the steps of
    docs/data.md, First import, each a new process."""
    work = tmp_path / "exports"
    work.mkdir()
    _write_hubspot(work / HUBSPOT_FILE)
    _write_salesforce(work / SALESFORCE_FILE)
    project = tmp_path / "my-plan"
    _kpitree("init", project, cwd=tmp_path)
    presets = {}
    for name in (HUBSPOT_FILE, SALESFORCE_FILE):
        ranked = _json(_kpitree("mappings", "detect", name, "--json", cwd=work))["presets"]
        assert ranked[0]["fits"], ranked[0]
        presets[name] = ranked[0]["name"]
    assert presets == {HUBSPOT_FILE: "hubspot-contacts",
                       SALESFORCE_FILE: "salesforce-opportunities"}  # fmt: skip
    for name, preset in presets.items():
        _kpitree("import", name, "--mapping", preset, "-p", project, cwd=work)

    links = _json(_kpitree("data", "links", project, "--json", cwd=tmp_path))
    deal_lead = next(r for r in links["relations"] if r["relation"] == "deal_lead")
    # By construction: every opportunity with a lead is linked to it, except
    # ゼータ's (two contacts, ambiguous) and オメガ's (no such company).
    linked = sum(1 for o in OPPORTUNITIES if o.lead is not None)
    assert (deal_lead["records"], deal_lead["linked"]) == (len(OPPORTUNITIES), linked)
    assert [a["key"] for a in deal_lead["ambiguous"]] == ["ゼータ"]
    assert len(deal_lead["unmatched"]) == 1

    check = _json(_kpitree("data", "check", project, "--json", cwd=tmp_path))
    rules = {f["rule"]: f for f in check["findings"]}
    assert rules["ambiguous_link"]["count"] == 1
    # Unlinked: the deals of no contact, but ゼータ's, which is ambiguous.
    no_lead = sum(1 for o in OPPORTUNITIES if o.lead is None)
    assert rules["unlinked_deal"]["count"] == no_lead - 1 == len(deal_lead["unmatched"])

    for month, key in ((1, "2026-01"), (2, "2026-02")):
        status = _json(
            _kpitree(
                "status",
                project,
                "--period",
                key,
                "--as-of",
                AS_OF.isoformat(),
                "--json",
                cwd=tmp_path,
            )
        )
        rows = {r["node"]: r for r in status["rows"] if not r.get("segment")}
        entrants, converted = _expected_cohort(month, "opportunity", 90)
        rate = rows["opportunity_rate"]
        assert (rate["volume"], rate["converted"]) == (entrants, converted)
        assert rate["actual"] == pytest.approx(converted / entrants) and rate["actual"] <= 1
        assert rows["mqls"]["actual"] == _mqls(month)
        assert rows["opportunities"]["actual"] == _opportunities(month)


def test_the_data_page_shows_the_links_and_its_json_twin(
    company: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import closing

    from fastapi.testclient import TestClient

    from kpitree.web.app import create_app

    monkeypatch.setenv("KPITREE_LANG", "en")
    capsys.readouterr()
    assert _main("data", "links", str(company), "--json") == 0
    cli = json.loads(capsys.readouterr().out)
    with closing(
        TestClient(
            create_app(company), base_url="http://localhost", headers={"accept-language": "en"}
        )
    ) as client:
        twin = client.get("/api/data/links")
        page = client.get("/data")
        fragment = client.get("/data/links")
        limited = client.get("/api/data/links", params={"limit": 0})
        refused = client.get("/api/data/links", params={"limit": -1})
    assert twin.status_code == 200 and twin.json() == cli
    assert limited.json()["relations"][0]["unmatched"] == [] and refused.status_code == 422
    assert page.status_code == 200 and fragment.status_code == 200
    html = page.text
    assert 'data-testid="links"' in html and "Links between sources" in html
    assert fragment.text.strip() in html
    deal_lead = next(r for r in cli["relations"] if r["relation"] == "deal_lead")
    section = re.search(
        r'data-relation="deal_lead">(.*?)</div>\s*(?:<div data-testid="links-relation"|$)',
        html,
        flags=re.DOTALL,
    )
    assert section is not None
    text = section.group(1)
    assert "Deals -&gt; their originating lead" in text or "Deals -> their originating lead" in text
    for pair in deal_lead["pairs"]:
        row = re.search(rf'<tr data-source="{pair["from_source"]}"[^>]*>(.*?)</tr>', text, re.S)
        assert row, pair["from_source"]
        cells = row.group(1)
        for field in ("records", "linked", "ambiguous", "unmatched"):
            assert f'data-field="{field}">{pair[field]:,}</td>' in cells
        assert f'data-field="rate">{pair["rate"] * 100:.1f}%</td>' in cells
        for m in pair["by_method"]:
            assert f"to {m['to_source']} by " in cells and f": {m['linked']}" in cells
    # What is not linked, and what to add to the export.
    for u in deal_lead["unmatched"]:
        assert u["id"] in text
    assert [a["key"] for a in deal_lead["ambiguous"]] == ["ゼータ"]
    assert "ゼータ" in text and "not linked" in text
    assert "add the lead&#39;s id or the contact&#39;s e-mail" in text or (
        "add the lead's id or the contact's e-mail" in text
    )


def test_an_open_cohort_neither_drags_the_forecast_nor_explains_the_gap(company: Path) -> None:
    """On 15 February, February's MQL (3 February) has not converted yet (its
    opportunity comes on the 20th): the cohort rate is 0% and may still rise.
    The opportunities counted so far are not forecast below themselves, and
    the rate takes its plan value in the gap's attribution (listed)."""
    mid = AS_OF.replace(month=2, day=15)
    result = Project.load(company).status("2026-02", as_of=mid)
    rate = result.row("opportunity_rate", "2026-02")
    assert rate.incomplete and rate.actual == 0.0
    so_far = sum(1 for o in OPPORTUNITIES if _day(o.created).month == 2 and _day(o.created) <= mid)
    opportunities = result.row("opportunities", "2026-02")
    assert opportunities.actual == so_far == 5
    assert opportunities.forecast is not None and opportunities.forecast >= so_far
    assert "opportunity_rate" in result.filled_from_plan
    attribution = result.attribution_vs_target
    assert attribution is not None and attribution.by_input["opportunity_rate"] == 0
    # `kpitree explain` the same: the measured change of the KGI, the open
    # rate at its plan value (listed for the data's side only), the
    # opportunities' reconciliation as its own share.
    explained = Project.load(company).explain(
        at="actual@2026-02", base="expected@2026-02", current="actual@2026-02", as_of=mid
    )
    assert "opportunity_rate" in explained.filled["actual@2026-02"]
    assert "opportunity_rate" not in explained.filled.get("expected@2026-02", ())
    att = explained.attribution
    assert att is not None and att.exact and att.by_input["opportunity_rate"] == 0
    assert att.reconciliation["opportunities"] != 0
    assert att.change == pytest.approx(
        result.row(att.root, "2026-02").actual - result.row(att.root, "2026-02").expected
    )
