"""Every error code the reports emit (KT800–KT849) is in docs/reports.md, and
the docs list no code that is never emitted."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_report_error_codes_are_documented() -> None:
    sources = [
        *(ROOT / "src" / "kpitree" / "reports").glob("*.py"),
        ROOT / "src" / "kpitree" / "cli" / "commands_reports.py",
        ROOT / "src" / "kpitree" / "definition" / "spec_reports.py",
    ]
    emitted = set()
    for path in sources:
        emitted |= set(re.findall(r'"(KT8\d{2})"', path.read_text(encoding="utf-8")))
    assert emitted, "no codes found"
    assert all(800 <= int(code[2:]) <= 849 for code in emitted)
    doc = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    section = doc.split("## Error codes", 1)[1]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    assert emitted == documented
