"""Every error code the sync core emits (KT903–KT929) is in docs/sources.md (the definition's
own codes, KT900–KT902, in docs/definition.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "kpitree"


def _codes(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(r'"(KT9\d\d)"', path.read_text(encoding="utf-8")))
    return found


def test_connector_error_codes_are_documented() -> None:
    emitted = _codes(
        [
            *(SOURCE / "connectors").rglob("*.py"),
            SOURCE / "cli" / "commands_sync.py",
            SOURCE / "data" / "syncstore.py",
        ]
    )
    doc = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    section = doc.split("## Error codes", 1)[1]
    documented = set(re.findall(r"^\| `(KT\d{3})` \|", section, flags=re.MULTILINE))
    # The sync core's own range, exactly (each connector's tests check its own).
    core = {c for c in documented if "KT903" <= c <= "KT929"}
    assert core == {c for c in emitted if "KT903" <= c <= "KT929"}


def test_definition_codes_of_sources_are_documented() -> None:
    emitted = _codes([SOURCE / "definition" / "spec_sources.py"])
    doc = (ROOT / "docs" / "definition.md").read_text(encoding="utf-8")
    assert emitted == {"KT900", "KT901", "KT902"}
    assert all(f"| `{code}` | error |" in doc for code in emitted)
