"""The located YAML reader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kpitree.errors import Span, UserError
from kpitree.source import did_you_mean, load_yaml, parse_yaml


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("on", "on"),
        ("off", "off"),
        ("no", "no"),
        ("yes", "yes"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("3_000", 3000),
        ("300000000", 300000000),
        ("-12", -12),
        ("1.5e6", 1.5e6),
        ("0.25", 0.25),
        (".5", 0.5),
        ("'3000'", "3000"),
        ('"0.25"', "0.25"),
        ('"true"', "true"),
        ("2026-04", "2026-04"),
        ("2026-04-01", "2026-04-01"),
        ("0x1F", "0x1F"),
        ("12:30", "12:30"),
        ("3,000,000", "3,000,000"),
        ("売上", "売上"),
    ],
)
def test_yaml_1_2_scalars(text: str, value: object) -> None:
    data = parse_yaml(f"value: {text}\n").data["value"]
    assert data == value
    assert type(data) is type(value)


def test_special_floats() -> None:
    data = parse_yaml("a: .inf\nb: -.inf\nc: .nan\n").data
    assert data["a"] == math.inf
    assert data["b"] == -math.inf
    assert math.isnan(data["c"])


def test_keys_are_always_strings() -> None:
    data = parse_yaml("on: 1\n4: april\nnull: x\n").data
    assert data == {"on": 1, "4": "april", "null": "x"}


def test_spans_of_keys_and_values() -> None:
    doc = parse_yaml(
        "nodes:\n  revenue:\n    formula: won_deals * price\n  sqls: {unit: count}\n", "k.yaml"
    )
    assert doc.key_span(("nodes", "revenue")) == Span("k.yaml", 2, 3, 10)
    assert doc.span(("nodes", "revenue", "formula")) == Span("k.yaml", 3, 14, 31)
    assert doc.span(("nodes", "sqls", "unit")) == Span("k.yaml", 4, 16, 21)
    # An unknown path falls back to its nearest located ancestor.
    assert doc.span(("nodes", "sqls", "missing", 3)) == doc.span(("nodes", "sqls"))
    assert doc.line(3) == "    formula: won_deals * price"
    assert doc.line(99) == ""


def test_spans_of_list_items() -> None:
    doc = parse_yaml("drivers: [nps, csat]\n")
    assert doc.span(("drivers", 1)) == Span("<input>", 1, 16, 20)


def test_multi_line_values_have_no_end_column() -> None:
    doc = parse_yaml("formula: >\n  a *\n  b\n")
    assert doc.data["formula"] == "a * b\n"
    assert doc.span(("formula",)).end_column is None


def test_duplicate_keys_are_reported_not_overwritten() -> None:
    doc = parse_yaml("nodes:\n  sqls: {unit: count}\n  sqls: {unit: ratio}\n", "k.yaml")
    assert doc.data["nodes"]["sqls"] == {"unit": "count"}
    assert doc.duplicates == [(("nodes", "sqls"), Span("k.yaml", 2, 3, 7), Span("k.yaml", 3, 3, 7))]


def test_merge_keys_explicit_keys_win() -> None:
    doc = parse_yaml(
        "base: &b {unit: count, owner: marketing}\nleads: {<<: *b, owner: is}\n", "k.yaml"
    )
    assert doc.data["leads"] == {"owner": "is", "unit": "count"}
    assert doc.duplicates == []
    assert doc.span(("leads",)) == Span("k.yaml", 2, 8, 27)


def test_merge_a_list_of_mappings() -> None:
    doc = parse_yaml("a: &a {unit: count}\nb: &b {unit: ratio, owner: x}\nc: {<<: [*a, *b]}\n")
    assert doc.data["c"] == {"unit": "count", "owner": "x"}


def test_syntax_error_location() -> None:
    with pytest.raises(UserError) as caught:
        parse_yaml("kpitree: 1\nnodes:\n  sqls: {unit: count\n  leads: 1\n", "k.yaml")
    (diag,) = caught.value.diagnostics
    assert diag.code == "KT001"
    assert diag.key == "yaml.syntax"
    assert diag.span == Span("k.yaml", 4, 8)
    assert diag.message("en").startswith("YAML syntax error: while parsing a flow mapping")


def test_bad_indentation_is_located() -> None:
    with pytest.raises(UserError) as caught:
        parse_yaml("nodes:\n  sqls: 1\n leads: 2\n", "k.yaml")
    assert caught.value.diagnostics[0].span == Span("k.yaml", 3, 2)


def test_empty_document() -> None:
    doc = parse_yaml("# nothing yet\n", "k.yaml")
    assert doc.data is None
    assert doc.span(("nodes",)) == Span("k.yaml", 1, 1)


def test_load_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "kpitree.yaml"
    path.write_bytes("\ufeffname: 売上計画\n".encode())
    assert load_yaml(path).data == {"name": "売上計画"}


def test_non_utf8_file_is_located_at_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "kpitree.yaml"
    path.write_bytes(b"kpitree: 1\nname: plan\nlabel: " + "売上".encode("shift_jis") + b"\n")
    with pytest.raises(UserError) as caught:
        load_yaml(path)
    (diag,) = caught.value.diagnostics
    assert diag.code == "KT003"
    assert diag.span == Span(str(path), 3, 1)
    assert diag.message("en") == (
        f"{path} is not UTF-8 text; save it as UTF-8 (in Excel or Notepad: 'UTF-8')"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(UserError) as caught:
        load_yaml(path)
    assert caught.value.diagnostics[0].code == "KT002"
    assert caught.value.diagnostics[0].message("en") == f"file not found: {path}"


def test_a_project_path_too_long_to_look_up_says_why(tmp_path: Path) -> None:
    # Longer than a file name may be: looking it up fails (not as a missing
    # file); the project is not loaded, with a located message, not a crash.
    from kpitree.project import Project

    path = tmp_path / ("a" * 300)
    with pytest.raises(UserError) as caught:
        Project.load(path)
    diag = caught.value.diagnostics[0]
    assert (diag.code, diag.span) == ("KT002", Span(str(path), 1, 1))
    assert diag.message("en") == f"cannot read {path}: File name too long"


def test_did_you_mean() -> None:
    hint = did_you_mean("targt", ["target", "assume"])
    assert not isinstance(hint, str)
    assert hint.render("en") == " (did you mean 'target'?)"
    assert did_you_mean("xyz", ["target", "assume"]) == ""
