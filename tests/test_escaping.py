"""Text that leaves kpitree (kpitree.escaping), and the rule that every CSV and
XLSX writer of the package goes through it."""

from __future__ import annotations

import ast
import csv
import io
import re
from pathlib import Path

import pytest

import kpitree
from kpitree.escaping import (
    SpreadsheetCsvWriter,
    formula_like,
    markdown_cell,
    markdown_text,
    slack_text,
    spreadsheet_text,
    terminal_text,
)

PACKAGE = Path(kpitree.__file__).parent
_CELL = re.compile(r"[A-Z]{1,3}[0-9]+")  # an A1 reference


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "\n=1",
        "\0x",
        "-5%",
        "+81-3-1234-5678",
        "-",
        "＝1+1",
        "＠SUM(A1)",
        "=",
    ],
)
def test_formula_like_text_gets_a_quote(text: str) -> None:
    assert formula_like(text)
    assert spreadsheet_text(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["", "Revenue", "売上", "-5", "+5", "-1234.5", "-.5", "1e-05", "-1E+3", "'=1", " =1"]
)
def test_plain_text_and_plain_numbers_are_unchanged(text: str) -> None:
    assert not formula_like(text)
    assert spreadsheet_text(text) == text


def test_csv_writer_neutralises_text_and_leaves_numbers() -> None:
    out = io.StringIO()
    writer = SpreadsheetCsvWriter(out, lineterminator="\n")
    writer.writerows([["=a", -5, -0.5, "-5"], ["x,=y", None, True, "@"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=a", "-5", "-0.5", "-5"],
        ["x,=y", "", "True", "'@"],
    ]


def test_markdown_escapes_html_links_tables_and_line_starts() -> None:
    assert markdown_cell("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert markdown_cell("![x](http://e) [a](b)") == "!\\[x\\](http://e) \\[a\\](b)"
    assert markdown_cell("a | b\nc") == "a \\| b c"
    assert markdown_cell("*b* _i_ `c` ~~s~~ \\") == "\\*b\\* \\_i\\_ \\`c\\` \\~\\~s\\~\\~ \\\\"
    assert markdown_cell("R&D &amp; &#60; &x") == "R&D &amp;amp; &amp;#60; &x"
    assert markdown_cell("-5%") == "-5%"  # a cell cannot start a list
    assert markdown_text("# h") == "\\# h"
    assert markdown_text("- item") == "\\- item"
    assert markdown_text("+ item") == "\\+ item"
    assert markdown_text("---") == "\\---"
    assert markdown_text("1. one") == "1\\. one"
    assert markdown_text("-29pt vs pace") == "-29pt vs pace"
    assert markdown_text("Revenue is at 32%") == "Revenue is at 32%"


def test_slack_escapes_control_sequences() -> None:
    assert slack_text("<!channel> <@U1> <http://e|x> & *b*") == (
        "&lt;!channel&gt; &lt;@U1&gt; &lt;http://e|x&gt; &amp; *b*"
    )


def test_terminal_text_is_neither_markup_nor_escape_sequences() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, highlight=False, width=200)
    console.print(terminal_text("[/] [bold]x[/bold] \x1b[31mred \x9b2J tab\tok"))
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[/] [bold]x[/bold] \ufffd[31mred \ufffd2J tab" in printed
    assert "\x1b[31m" not in printed and "\x9b" not in printed


def _calls(tree: ast.AST) -> list[str]:
    """Writer calls that would bypass kpitree.escaping."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = node.func.attr
            on_csv = isinstance(owner, ast.Name) and owner.id == "csv"
            if name in ("writer", "DictWriter") and on_csv:
                found.append(f"csv.{name}")
            # pyarrow's csv.write_csv only feeds a temporary file to the database.
            if name in ("to_csv", "to_excel", "write_csv") and not on_csv:
                found.append(name)
            if name == "cell" and any(k.arg == "value" for k in node.keywords):
                found.append("cell(value=...)")
            if name == "append" and isinstance(owner, ast.Name) and owner.id in ("ws", "sheet"):
                found.append(f"{owner.id}.append")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                items = target.elts if isinstance(target, ast.Tuple) else [target]
                for item in items:
                    key = item.slice if isinstance(item, ast.Subscript) else None
                    if isinstance(key, ast.Constant) and _CELL.fullmatch(str(key.value)):
                        found.append("sheet[...] = value")
    return found


def test_every_csv_and_xlsx_writer_goes_through_escaping() -> None:
    problems = []
    for file in sorted(PACKAGE.rglob("*.py")):
        if file.name == "escaping.py":
            continue
        source = file.read_text(encoding="utf-8")
        for call in _calls(ast.parse(source)):
            problems.append(f"{file.relative_to(PACKAGE)}: {call}")
        if "openpyxl" in source and "Workbook" in source and "write_xlsx_cell" not in source:
            problems.append(f"{file.relative_to(PACKAGE)}: an openpyxl Workbook without escaping")
    assert not problems, "\n".join(problems)
