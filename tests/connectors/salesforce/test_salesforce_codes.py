"""Every error code the Salesforce connector emits (KT930–KT949) is documented, in
docs/salesforce.md and in the error table of docs/sources.md, and has its message
in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from kpitree.i18n import catalog

ROOT = Path(__file__).resolve().parents[3]
CONNECTOR = ROOT / "src" / "kpitree" / "connectors" / "salesforce"


def _table(doc: str) -> set[str]:
    return set(re.findall(r"^\| `(KT9[34]\d)` \|", doc, flags=re.MULTILINE))


def test_salesforce_codes_are_documented_and_translated() -> None:
    emitted: set[str] = set()
    keys: set[str] = set()
    for path in CONNECTOR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        emitted |= set(re.findall(r'"(KT9[34]\d)"', text))
        keys |= set(re.findall(r'"(salesforce\.[a-z_.]+)"', text))
    assert emitted == {f"KT93{n}" for n in range(1, 10)}
    assert _table((ROOT / "docs" / "salesforce.md").read_text(encoding="utf-8")) == emitted
    assert _table((ROOT / "docs" / "sources.md").read_text(encoding="utf-8")) == emitted
    for lang in ("ja", "en"):
        assert keys - set(catalog(lang)) == set()
