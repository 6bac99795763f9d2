"""The definition reference documents every key and every check code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

import kpitree
from kpitree.definition import spec
from kpitree.definition.design import RULES

ROOT = Path(__file__).resolve().parent.parent
DEFINITION_DOC = ROOT / "docs" / "definition.md"
GLOSSARY = ROOT / "GLOSSARY.md"
SOURCE = Path(kpitree.__file__).parent

MODELS = [getattr(spec, name) for name in spec.__all__]


def _doc() -> str:
    return DEFINITION_DOC.read_text(encoding="utf-8")


def _documented_keys(doc: str) -> set[str]:
    """Keys in the first column of the reference tables: ``| `key` | ...``."""
    return set(re.findall(r"^\| `([^`]+)` \|", doc, flags=re.MULTILINE))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    keys = _documented_keys(_doc())
    names = {field.alias or name for name, field in model.model_fields.items()}
    assert names - keys == set()


def _codes_in(text: str) -> set[str]:
    return set(re.findall(r'"(KT\d{3})"', text))


def test_every_check_code_is_documented() -> None:
    emitted = {rule.code for rule in RULES}
    for path in [SOURCE / "source.py", *sorted((SOURCE / "definition").glob("*.py"))]:
        emitted |= _codes_in(path.read_text(encoding="utf-8"))
    assert len(emitted) > len(RULES)
    table = _documented_keys(_doc())
    assert emitted - table == set()


def test_no_documented_code_is_made_up() -> None:
    emitted = {rule.code for rule in RULES}
    for path in [SOURCE / "source.py", *sorted((SOURCE / "definition").glob("*.py"))]:
        emitted |= _codes_in(path.read_text(encoding="utf-8"))
    documented = {k for k in _documented_keys(_doc()) if re.fullmatch(r"KT\d{3}", k)}
    assert documented - emitted == set()


def test_documented_severity_matches_the_rule() -> None:
    rows = dict(re.findall(r"^\| `(KT\d{3})` \| (error|warning) \|", _doc(), flags=re.MULTILINE))
    assert {rule.code: rule.severity.value for rule in RULES}.items() <= rows.items()


GLOSSARY_TERMS = [
    "KGI", "KSF", "KPI", "Node", "Input", "Formula", "Driver", "Influence link", "Target",
    "Assumption", "Period", "Horizon", "Fiscal year", "Segment", "Department", "Team", "Rep",
    "Plan", "Allocation", "Cascade", "Scenario", "Sensitivity", "Elasticity", "Attribution",
    "Shapley value", "MQL", "SQL", "Opportunity", "Win rate", "Cohort", "Pace",
    "Leading indicator", "Lagging indicator", "SMART", "MECE",
]  # fmt: skip


def test_glossary_defines_every_domain_word_in_both_languages() -> None:
    text = GLOSSARY.read_text(encoding="utf-8")
    headings = re.findall(r"^### (.+)$", text, flags=re.MULTILINE)
    defined = {h.split("（")[0].strip() for h in headings}
    for term in GLOSSARY_TERMS:
        assert any(term in d.split(" / ") for d in defined), term
    # Every entry names the Japanese term next to the English one.
    assert all(re.search(r"（.+）", h) for h in headings), headings
