"""A small company whose data problems are known by construction, for the
data-quality tests: CSV files written here (the leads in Shift_JIS, as Excel
writes them), imported with ``kpitree import`` and mappings.

The comments next to the rows say which rule each is built to trip (as of
2026-06-30)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main

AS_OF = "2026-06-30"

LEADS = """\
ID,Created,Owner,MQL,SQL,Opp,Name
L1,2026/04/01,R1,2026/04/02,2026/04/03,2026/04/05,山田 一郎
L2,2026/04/01,R1,2026/04/02,,2026/04/10,佐藤 二郎
L3,2026/04/01,,2026/04/20,2026/04/10,,鈴木 三郎
L4,2026/04/10,R1,2026/04/05,,,高橋 四郎
L5,2026/04/01,R2,2026/07/15,,,?田 花子
L6,2026/07/01,R2,,,,伊藤 六郎
"""
# L1: clean. L2: skips SQL. L3: MQL after SQL (backwards), no owner.
# L4: MQL before its creation (and so, with the lead entry, backwards).
# L5: a future MQL; its name lost a character in Shift_JIS. L6: created in the future.

LEADS_MAP = """\
mapping: 1
tables:
  leads:
    lead_id: ID
    created_at: Created
    owner_id: Owner
  lead_stage_history:
    lead_id: ID
    stages: {lead: Created, mql: MQL, sql: SQL, opportunity: Opp}
"""

DEALS = """\
ID,Lead,Created,Close,Won,Amount,Status,Owner,Account
D1,L1,2026/04/06,2026/05/01,2026/05/01,1000000,won,R1,ACME
D2,L2,2026/04/12,,,,open,,
D3,L4,2026/04/08,,,500,open,R2,
D4,L1,2026/04/06,2026/04/05,2026/04/05,300,won,R1,
D5,L2,2026/04/12,2026/04/15,2026/04/15,700,won,R2,
D6,L1,2026/04/20,2026/06/15,,900,lost,R3,
D7,L99,2026/04/20,,,100,open,R1,
"""
# D1: clean. D2: no amount, no owner. D3: created before its lead (L4, 04-10).
# D4: won the day before it was created (close and won entry before creation;
# the won entry before the opportunity one goes backwards).
# D5: won before its lead's first activity (A2, 04-20). D6: owner R3 has no team.
# D7: names a lead (L99) that is not in the leads. D1 names an account, but no
# accounts were imported: not a broken link.

DEALS_MAP = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    lead_id: Lead
    created_at: Created
    close_date: Close
    amount: Amount
    status: Status
    owner_id: Owner
    account_id: Account
  deal_stage_history:
    deal_id: ID
    stages: {opportunity: Created, won: Won}
"""

ACTIVITIES = """\
ID,Type,At,Owner,Lead
A1,call,2026/04/02,R1,L1
A2,call,2026/04/20,R1,L2
A3,call,2026/08/01,R1,L1
"""
# A3: in the future.

ACTIVITIES_MAP = """\
mapping: 1
tables:
  activities:
    activity_id: ID
    type: Type
    occurred_at: At
    owner_id: Owner
    lead_id: Lead
"""

REPS = "rep,name,team,since\nR1,森 沙織,東日本,2026/04/01\nR2,??木 健,西日本,2026/04/01\n"
# R2's name lost a character.

REPS_MAP = """\
mapping: 1
tables:
  reps:
    rep_id: rep
    name: name
  rep_assignments:
    rep_id: rep
    valid_from: since
    department: {value: field_sales}
    team: team
"""


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    (folder / name).write_bytes(text.encode(encoding))
    return str(folder / name)


def build_company(tmp_path: Path, kpitree: Callable[..., Any]) -> Path:
    """``kpitree init`` a project and import the four files into it."""
    project = tmp_path / "co"
    assert kpitree("init", str(project)).code == 0
    for stem, data, mapping, encoding in (
        ("leads", LEADS, LEADS_MAP, "cp932"),
        ("deals", DEALS, DEALS_MAP, "utf-8"),
        ("activities", ACTIVITIES, ACTIVITIES_MAP, "utf-8"),
        ("reps", REPS, REPS_MAP, "utf-8"),
    ):
        csv = write(tmp_path, f"{stem}.csv", data, encoding)
        yaml = write(tmp_path, f"{stem}.yaml", mapping)
        done = kpitree("import", csv, "--mapping", yaml, "--project", str(project))
        assert done.code == 0, done.out + done.err
    return project


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli_runner(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run ``kpitree ARGS...`` in this process; exit code, stdout and stderr."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code: Any = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Run(code or 0, captured.out, captured.err)

    return run
