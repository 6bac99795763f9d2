"""Every error code of the review loop (KT210–KT249, KT270–KT279 for the Actions
page, and KT770 for text too long) is in docs/review.md,
and the docs list no code that is never emitted."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_review_error_codes_are_documented() -> None:
    sources = [
        *(ROOT / "src" / "kpitree" / "review").glob("*.py"),
        ROOT / "src" / "kpitree" / "cli" / "commands_actions.py",
        ROOT / "src" / "kpitree" / "cli" / "commands_revisions.py",
        ROOT / "src" / "kpitree" / "cli" / "commands_book.py",
        ROOT / "src" / "kpitree" / "cli" / "commands_validity.py",
        ROOT / "src" / "kpitree" / "cli" / "commands_scorecard.py",
        ROOT / "src" / "kpitree" / "web" / "routes_actions.py",
        ROOT / "src" / "kpitree" / "web" / "routes_actions_page.py",
        ROOT / "src" / "kpitree" / "web" / "routes_scorecards.py",
    ]
    emitted = set()
    for path in sources:
        emitted |= set(re.findall(r'"(KT\d{3})"', path.read_text(encoding="utf-8")))
    assert emitted, "no codes found"
    assert all(
        210 <= int(code[2:]) <= 249 or 270 <= int(code[2:]) <= 279 or code == "KT770"
        for code in emitted
    )
    doc = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    section = doc.split("## Error codes", 1)[1]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    assert emitted == documented
