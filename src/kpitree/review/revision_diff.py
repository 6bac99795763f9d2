"""What changed between two revisions of the definition: every key that was
added, removed or changed (``nodes.calls.target.monthly: 600 → 900``), and
the text diff of the files."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "changes", "text_diff"]


@dataclass(frozen=True)
class Change:
    key: str  # dotted path, e.g. nodes.calls.target
    kind: str  # added | removed | changed
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "old": self.old, "new": self.new}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value
    return out


def changes(old_text: str, new_text: str) -> list[Change]:
    """The keys that differ, in the order of the newer file (removed ones last)."""
    import yaml

    old = _flatten(yaml.safe_load(old_text) or {}, "", {})
    new = _flatten(yaml.safe_load(new_text) or {}, "", {})
    found = [
        Change(k, "added" if k not in old else "changed", old.get(k), v)
        for k, v in new.items()
        if k not in old or old[k] != v
    ]
    found += [Change(k, "removed", v, None) for k, v in old.items() if k not in new]
    return found


def text_diff(old_text: str, new_text: str, old_name: str, new_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
