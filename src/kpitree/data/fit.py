"""How well a file's headers fit a mapping: the closest header to a missing one,
and the built-in presets ranked for a file (``kpitree mappings detect``)."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kpitree.data.mapping import ColumnRule, Mapping, load_mapping, preset_names

__all__ = ["Missing", "PresetFit", "closest_header", "fit", "rank_presets"]

# Below this similarity (0-1) a header is not offered as "the closest".
CLOSEST_CUTOFF = 0.5
# Below any share of columns read (at most 0.01), above nothing else.
SYNTHETIC_PENALTY = 0.02


def norm(header: str) -> str:
    """A header as compared loosely: NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", header).casefold().split())


def _similarity(a: str, b: str) -> float:
    a, b = norm(a), norm(b)
    if a.replace(" ", "") == b.replace(" ", ""):
        return 1.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def closest_header(
    alternatives: Sequence[str], headers: Sequence[str], cutoff: float = CLOSEST_CUTOFF
) -> str | None:
    """The file header most like any of ``alternatives`` (the headers a rule
    accepts), or None when none is at least ``cutoff`` similar."""
    best: tuple[float, str] | None = None
    for h in headers:
        if not h:
            continue
        score = max((_similarity(a, h) for a in alternatives), default=0.0)
        if score >= cutoff and (best is None or score > best[0]):
            best = (score, h)
    return best[1] if best else None


@dataclass(frozen=True)
class Missing:
    """A required rule of a mapping that no header of the file satisfies."""

    target: str
    """``table.column`` (or ``table.stage:<name>``) the rule feeds."""
    headers: tuple[str, ...]
    """The headers the rule accepts."""
    closest: str | None


@dataclass(frozen=True)
class PresetFit:
    """How one mapping fits a file's headers."""

    name: str
    description: str | None
    required: int
    """Distinct required header rules."""
    missing: tuple[Missing, ...]
    read: tuple[str, ...]
    """The file's headers the mapping reads."""
    synthetic_id: bool = False
    """The file lacks the mapping's id column: ids would be made (``id_from``)."""

    @property
    def fits(self) -> bool:
        return not self.missing

    def score(self, headers: Sequence[str]) -> float:
        """Share of required rules found, then share of the file's columns read."""
        if self.required == 0:
            return 0.0
        found = (self.required - len(self.missing)) / self.required
        read = len(self.read) / max(len([h for h in headers if h]), 1) / 100
        # A file with the id column a preset reads fits it better than one whose
        # ids another preset would have to make.
        return found + read - (SYNTHETIC_PENALTY if self.synthetic_id else 0.0)

    def to_json(self, headers: Sequence[str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "fits": self.fits,
            "score": round(self.score(headers), 4),
            "required": self.required,
            "required_found": self.required - len(self.missing),
            "columns_read": list(self.read),
            "missing": [
                {"target": m.target, "headers": list(m.headers), "closest": m.closest}
                for m in self.missing
            ],
        }


def _lookup(headers: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in headers:
        out.setdefault(h, h)
    for h in headers:
        out.setdefault(norm(h), h)
    return out


def _expanded(mapping: Mapping, index: dict[str, str]) -> list[tuple[str, str, ColumnRule]]:
    """The mapping's rules; an ``id_from`` rule whose own id column is not in the
    file becomes one rule per identifying column (marked with ``id_from=((),)``
    to say so)."""
    out = []
    for tbl, col, rule in mapping.rules():
        own = rule.headers[:-1] if rule.id_from else rule.headers
        if rule.id_from and not any(h in index or norm(h) in index for h in own):
            out += [
                (tbl, col, ColumnRule(headers=part, optional=rule.optional, id_from=((),)))
                for part in rule.id_from
            ]
        else:
            out.append((tbl, col, ColumnRule(headers=own, optional=rule.optional)))
    return out


def fit(mapping: Mapping, headers: Sequence[str]) -> PresetFit:
    """How ``mapping`` fits a file with these ``headers`` (matched as an import
    matches them: exactly, else ignoring case, width and spacing)."""
    index = _lookup(headers)
    read: dict[str, None] = {}
    missing: dict[tuple[str, ...], Missing] = {}
    required: set[tuple[str, ...]] = set()
    synthetic = False
    for tbl, col, rule in _expanded(mapping, index):
        if not rule.headers:
            continue
        synthetic = synthetic or (bool(rule.id_from) and not rule.optional)
        hit = next((x for x in (index.get(h, index.get(norm(h))) for h in rule.headers) if x), None)
        if hit is not None:
            read[hit] = None
        elif not rule.optional:
            missing.setdefault(
                rule.headers,
                Missing(f"{tbl}.{col}", rule.headers, closest_header(rule.headers, headers)),
            )
        if not rule.optional:
            required.add(rule.headers)
    return PresetFit(
        mapping.name,
        mapping.description,
        len(required),
        tuple(missing.values()),
        tuple(read),
        synthetic,
    )


def rank_presets(headers: Sequence[str]) -> list[PresetFit]:
    """Every built-in preset's fit, best first (ties keep the presets' order)."""
    fits = [fit(load_mapping(name), headers) for name in preset_names()]
    return sorted(fits, key=lambda f: -f.score(headers))
