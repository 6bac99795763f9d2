"""Saving a scenario (``scenarios: {<id>: {label, set}}``) into kpitree.yaml.

The file is edited as text so that its comments and layout stay as the user
wrote them: the scenario's block is replaced when it exists, added at the end
of the ``scenarios:`` section otherwise (or a section is appended). The result
is checked like ``kpitree check`` does; when the edit would break the
definition, the file is put back and the errors are raised.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from kpitree.errors import UserError

__all__ = ["SCENARIO_ID", "save_scenario", "scenario_block"]

SCENARIO_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_SECTION = re.compile(r"^scenarios:[ \t]*(#.*)?$", re.MULTILINE)
_EMPTY_SECTION = re.compile(r"^scenarios:[ \t]*\{[ \t]*\}[ \t]*(#.*)?$", re.MULTILINE)
_INLINE_SECTION = re.compile(r"^scenarios:[ \t]*[^\s#]", re.MULTILINE)
_write_lock = threading.Lock()


def _number(value: float) -> str:
    return (
        str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    )


def scenario_block(
    scenario_id: str, label: str | None, values: Mapping[str, float], indent: str = "  "
) -> list[str]:
    """The YAML lines of one scenario (strings JSON-quoted: valid YAML, any text)."""
    lines = [f"{indent}{scenario_id}:"]
    if label:
        lines.append(f"{indent}{indent}label: {json.dumps(label, ensure_ascii=False)}")
    pairs = ", ".join(f"{k}: {_number(v)}" for k, v in values.items())
    lines.append(f"{indent}{indent}set: {{{pairs}}}")
    return lines


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _edited(
    text: str, scenario_id: str, label: str | None, values: Mapping[str, float], path: Path
) -> str:
    lines = text.splitlines()
    empty = _EMPTY_SECTION.search(text)
    if empty is not None:  # "scenarios: {}" becomes a block with this scenario
        at = text[: empty.start()].count("\n")
        block = scenario_block(scenario_id, label, values)
        return "\n".join([*lines[:at], "scenarios:", *block, *lines[at + 1 :]]) + "\n"
    if _INLINE_SECTION.search(text) is not None:
        raise UserError.of("KT697", "pages.error.inline_scenarios", None, path=str(path))
    match = _SECTION.search(text)
    if match is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return (
            "\n".join([*lines, "", "scenarios:", *scenario_block(scenario_id, label, values)])
            + "\n"
        )
    start = text[: match.start()].count("\n")
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((" ", "\t", "#")):
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines after the section stay after it
    children = [
        i
        for i in range(start + 1, end)
        if lines[i].strip() and not lines[i].lstrip().startswith("#")
    ]
    indent = " " * (_indent_of(lines[children[0]]) if children else 2)
    block = scenario_block(scenario_id, label, values, indent)
    own = re.compile(rf"^{re.escape(indent)}{re.escape(scenario_id)}:\s*(#.*)?$")
    for i in children:
        if own.match(lines[i]):
            stop = i + 1
            while stop < end and (not lines[stop].strip() or _indent_of(lines[stop]) > len(indent)):
                stop += 1
            while stop > i + 1 and not lines[stop - 1].strip():
                stop -= 1
            return "\n".join([*lines[:i], *block, *lines[stop:]]) + "\n"
    return "\n".join([*lines[:end], *block, *lines[end:]]) + "\n"


def save_scenario(
    definition: Path, scenario_id: str, label: str | None, values: Mapping[str, float]
) -> None:
    """Write scenario ``scenario_id`` (``label``, node -> value) into
    ``definition`` (kpitree.yaml). Raises :class:`UserError` for a bad id
    (KT693), for scenarios written inline (``scenarios: {a: ...}``, KT697: edit
    those by hand) or when the edited file would not check (its own
    diagnostics); the file is then left as it was."""
    from kpitree.definition.resolve import check_definition

    if not SCENARIO_ID.match(scenario_id):
        raise UserError.of("KT693", "pages.error.bad_scenario_id", None, scenario=scenario_id)
    with _write_lock:
        original = definition.read_text(encoding="utf-8")
        updated = _edited(original, scenario_id, label, values, definition)
        _replace(definition, updated)
        result = check_definition(str(definition))
        errors = [d for d in result.diagnostics if d.is_error]
        if errors:
            _replace(definition, original)
            raise UserError(errors)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (readers never see half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=".kpitree-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        Path(tmp).chmod(stat.S_IMODE(path.stat().st_mode))
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
