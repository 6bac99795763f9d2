"""Every error code the computation layer emits is in docs/engine.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compute_error_codes_are_documented() -> None:
    sources = [
        *(ROOT / "src" / "kpitree" / "compute").glob("*.py"),
        ROOT / "src" / "kpitree" / "cli" / "commands_engine.py",
        ROOT / "src" / "kpitree" / "cli" / "commands_core.py",
        ROOT / "src" / "kpitree" / "cli" / "direct.py",
        ROOT / "src" / "kpitree" / "cli" / "output.py",
    ]
    emitted = set()
    for path in sources:
        emitted |= set(re.findall(r'"(KT5\d{2})"', path.read_text(encoding="utf-8")))
    emitted -= {f"KT51{i}" for i in range(10)}  # the engines' own table
    doc = (ROOT / "docs" / "engine.md").read_text(encoding="utf-8")
    section = doc.split("## Error codes of metrics, targets and status", 1)[1]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    assert emitted == documented
