"""Every error code of alerts and SLAs (KT700-KT799, and KT331 of the
data-quality alert rules) is in docs/alerts.md,
and the table names no code that is never raised."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *(ROOT / "src" / "kpitree" / "alerts").glob("*.py"),
    *(ROOT / "src" / "kpitree" / "sla").glob("*.py"),
    ROOT / "src" / "kpitree" / "compute" / "sla.py",
    ROOT / "src" / "kpitree" / "definition" / "spec_alerts.py",
    ROOT / "src" / "kpitree" / "definition" / "alerting_checks.py",
    ROOT / "src" / "kpitree" / "definition" / "spec_quality_alerts.py",
    ROOT / "src" / "kpitree" / "cli" / "commands_alerts.py",
    ROOT / "src" / "kpitree" / "web" / "routes_alerts.py",
]


def test_alert_and_sla_codes_are_documented() -> None:
    emitted: set[str] = set()
    for path in SOURCES:
        emitted |= set(re.findall(r'"(KT7\d{2}|KT331)"', path.read_text(encoding="utf-8")))
    doc = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    table = doc.split("## Error codes", 1)[1]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", table, flags=re.MULTILINE))
    assert len(emitted) >= 20
    assert emitted == documented
