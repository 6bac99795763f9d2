"""Every error code raised by kpitree.abm is in docs/abm.md, and the table
there names no code that is never raised."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_abm_codes_are_documented() -> None:
    emitted: set[str] = set()
    sources = [
        *(ROOT / "src" / "kpitree" / "abm").rglob("*.py"),
        ROOT / "src" / "kpitree" / "compute" / "account_columns.py",
        ROOT / "src" / "kpitree" / "data" / "company_master.py",
        ROOT / "src" / "kpitree" / "project.py",
        ROOT / "src" / "kpitree" / "project_data.py",
        ROOT / "src" / "kpitree" / "web" / "routes_accounts.py",
    ]
    for path in sources:
        emitted |= set(re.findall(r'"(KT2[5-8]\d)"', path.read_text(encoding="utf-8")))
    doc = (ROOT / "docs" / "abm.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", doc.split("## Codes", 1)[1], re.MULTILINE))
    assert emitted, "no code found"
    assert emitted == documented
