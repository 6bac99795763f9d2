"""An action's expected effect on its node, as people write it.

``+3pt`` (percentage points, for ratios), ``+10%`` (relative to the value
before the action), ``+20`` or ``-2.5`` (in the node's own unit). A trailing
``by 2027-01`` (or ``by 2027-01-31``) names the day the effect is due.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from kpitree.errors import Span, UserError

__all__ = ["Effect", "parse_due", "parse_effect"]

EffectKind = Literal["pt", "pct", "abs"]

_EFFECT = re.compile(
    r"^\s*(?P<sign>[+\-−＋])?\s*(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>pt|ポイント|%|％)?\s*"
    r"(?:(?:by|まで|までに)\s*(?P<due>\d{4}[-/]\d{1,2}(?:[-/]\d{1,2})?)\s*(?:まで(?:に)?)?)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Effect:
    """A change expected on a node: ``amount`` in points, percent or the node's unit."""

    kind: EffectKind
    amount: float  # signed: -2 expects a fall

    def delta(self, before: float) -> float:
        """The expected change in the node's unit, from the value before."""
        if self.kind == "pt":
            return self.amount / 100
        if self.kind == "pct":
            return before * self.amount / 100
        return self.amount

    @property
    def text(self) -> str:
        sign = "+" if self.amount >= 0 else "-"
        number = f"{abs(self.amount):g}"
        return f"{sign}{number}" + {"pt": "pt", "pct": "%", "abs": ""}[self.kind]


def parse_due(text: str, span: Span | None = None) -> dt.date:
    """A day (``2027-01-31``) or a month (``2027-01``: its last day); KT212 otherwise."""
    cleaned = text.strip().replace("/", "-")
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}", cleaned):
            year, month = (int(x) for x in cleaned.split("-"))
            return dt.date(year, month, calendar.monthrange(year, month)[1])
        parts = cleaned.split("-")
        if len(parts) == 3:
            return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        pass
    raise UserError.of("KT212", "review.bad_day", span, value=text)


def parse_effect(
    text: str, unit: str | None, span: Span | None = None
) -> tuple[Effect, dt.date | None]:
    """The effect and the due day written after ``by`` (if any). Points only
    apply to ratios (KT211); anything unreadable is KT210."""
    found = _EFFECT.match(text.replace("＋", "+").replace("−", "-"))
    if found is None:
        raise UserError.of("KT210", "review.bad_effect", span, value=text)
    amount = float(found["num"].replace(",", "."))
    if found["sign"] in ("-", "−"):
        amount = -amount
    raw_unit = (found["unit"] or "").lower()
    kind: EffectKind = "pt" if raw_unit in ("pt", "ポイント") else "pct" if raw_unit else "abs"
    if (kind == "pt") != (unit == "ratio") and kind != "pct":
        # Points only on a rate; a bare number on a rate is ambiguous (3 points? 3%?).
        raise UserError.of("KT211", "review.points_need_ratio", span, value=text)
    due = parse_due(found["due"], span) if found["due"] else None
    return Effect(kind, amount), due
