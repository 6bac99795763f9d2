"""A fake HubSpot portal on loopback with a generated company, and a project
whose ``sources:`` points at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.hubspot import Portal, serve
from fakes.hubspot_company import Company
from kpitree.cli import main

TOKEN_ENV = "KPITREE_TEST_HUBSPOT_TOKEN"


@dataclass
class HubSpotSetup:
    portal: Portal
    company: Company
    url: str
    project: Path

    @property
    def env(self) -> dict[str, str]:
        return {TOKEN_ENV: self.portal.token}

    @property
    def warehouse(self) -> Path:
        return self.project / ".kpitree" / "warehouse.duckdb"


def write_project(folder: Path, url: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kpitree.yaml").write_text(
        "kpitree: 1\nname: synced\nsources:\n  hubspot:\n    type: hubspot\n"
        f"    token_env: {TOKEN_ENV}\n    base_url: {url}\n{extra}",
        encoding="utf-8",
    )
    return folder


CONTACTS = 120
"""Contacts of the generated company (two list pages: paging is exercised)."""


@pytest.fixture
def hubspot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[HubSpotSetup]:
    """A fake portal with a generated company (``CONTACTS`` contacts, or the
    number given by indirect parametrization) and a project syncing it."""
    portal = Portal()
    company = Company(portal, contacts=getattr(request, "param", CONTACTS))
    monkeypatch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
    with serve(portal) as url:
        setup = HubSpotSetup(portal, company, url, write_project(tmp_path / "plan", url))
        monkeypatch.setenv(TOKEN_ENV, portal.token)
        yield setup


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def kpitree(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """``kpitree("sync", path)`` runs the command in this process (English)."""

    def run(*args: str | Path) -> Run:
        monkeypatch.setenv("KPITREE_LANG", "en")
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Run(int(code or 0), captured.out, captured.err)

    return run


def warehouse_funnel(path: Path) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    """Leads and stage entries as stored, in the shape of ``Company.truth()``."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        leads = {
            r[0]: {
                "created_at": r[1],
                "channel": r[2],
                "owner_id": r[3],
                "current_stage": r[4],
                "industry": r[5],
                "region": r[6],
            }
            for r in con.execute(
                "SELECT lead_id, epoch_ms(created_at), channel, owner_id, current_stage, "
                "industry, region FROM leads"
            ).fetchall()
        }
        history = {
            (r[0], r[1], str(r[2]))
            for r in con.execute(
                "SELECT lead_id, stage, epoch_ms(entered_at) FROM lead_stage_history"
            ).fetchall()
        }
    finally:
        con.close()
    return leads, history


def warehouse_deals(path: Path) -> tuple[dict[str, dict[str, Any]], set[tuple[str, str, str]]]:
    """Deals and their stage entries as stored, in the shape of ``Company.deal_truth()``."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        deals = {
            r[0]: dict(
                zip(
                    ("created_at", "amount", "currency", "status", "stage", "pipeline",
                     "owner_id", "account_id", "lead_id"),
                    r[1:],
                    strict=True,
                )
            )
            for r in con.execute(
                "SELECT deal_id, epoch_ms(created_at), amount, currency, status, stage, "
                "pipeline, owner_id, account_id, lead_id FROM deals"
            ).fetchall()
        }  # fmt: skip
        history = {
            (r[0], r[1], str(r[2]))
            for r in con.execute(
                "SELECT deal_id, stage, epoch_ms(entered_at) FROM deal_stage_history"
            ).fetchall()
        }
    finally:
        con.close()
    return deals, history


def verify_follows_hubspot(hubspot: HubSpotSetup, kpitree: Callable[..., Run]) -> None:
    """`sources verify` after a sync: every month matches HubSpot's counts, by the
    columns the mapping fills; after changes in the portal it says which months
    differ and why (the same expectations on every warehouse engine)."""
    kpitree("sync", hubspot.project)
    checked = kpitree(
        "sources", "verify", hubspot.project, "--period", "2025-04..2025-09", "--json"
    )
    assert checked.code == 0, checked.out + checked.err
    months = checked.json()["sources"][0]["months"]
    assert {m["month"] for m in months} == {f"2025-{m:02d}" for m in range(4, 10)}
    assert all(m["matches"] for m in months), [m for m in months if not m["matches"]]
    columns = {(m["object"], m["field"]): m["column"] for m in months}
    assert columns[("contacts", "createdate")] == "leads.created_at"
    assert columns[("deals", "createdate")] == "deals.created_at"
    assert columns[("contacts", "hs_v2_date_entered_marketingqualifiedlead")] == (
        "lead_stage_history.entered_at (mql)"
    )
    assert sum(m["source"] for m in months if m["field"] == "createdate") > 50
    hubspot.company.create(3)  # created now, not in 2025
    hubspot.company.archive(40)
    stale = kpitree("sources", "verify", hubspot.project, "--period", "2025-04..2025-09")
    assert stale.code == 1 and "✗ contacts" in stale.out and "run kpitree sync" in stale.out
    assert "kpitree has more: records deleted or archived in the source" in stale.out
    bad = kpitree("sources", "verify", hubspot.project, "--period", "2025-13")
    assert bad.code == 1 and "KT920" not in bad.out and "--period '2025-13'" in bad.err
