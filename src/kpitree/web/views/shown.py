"""How one node's numbers are shown on a page: formatted values (full and
compact for cards), the status word, icon and reason, the node's name, unit
and owner, and the numbers of a status row as a view model."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kpitree.i18n import t
from kpitree.i18n.numbers import format_compact, format_value

if TYPE_CHECKING:
    from kpitree.compute.status import NodeStatus
    from kpitree.definition.tree import Node, Tree

__all__ = [
    "STATUS_ICONS",
    "fmt",
    "fmt_card",
    "node_info",
    "node_numbers",
    "status_badge",
    "status_detail",
]

STATUS_ICONS = {
    "on_track": "✔",
    "at_risk": "▲",
    "off_track": "✖",
    "no_data": "○",
    "low_volume": "…",
    None: "–",
}


def status_badge(status: str | None, lang: str, reason: str | None = None) -> dict[str, Any]:
    """Status as word and icon besides the colour (never colour alone); a row
    without a status says why (no target, nothing due yet)."""
    word = status or (reason if reason in _REASON_WORDS else "none")
    return {
        "status": status,
        "status_reason": reason,
        "status_label": t(f"pages.status.{word}", lang=lang),
        "status_icon": STATUS_ICONS.get(status, "–"),
    }


_REASON_WORDS = ("no_target", "nothing_due", "no_actual", "not_started")


def status_detail(row: NodeStatus | None, tree: Tree, lang: str) -> dict[str, Any]:
    """Why a row has its status, and the flags on its value, in words."""
    if row is None:
        return {"status_note": None, "flags": [], "data_until": None, "pace_basis": None}
    note = None
    if row.status == "no_data":
        note = (
            t("pages.status.no_data_never", lang=lang)
            if row.data_until is None
            else t("pages.status.no_data_since", lang=lang, date=row.data_until.isoformat())
        )
    elif row.status == "low_volume" and row.volume is not None and row.min_volume is not None:
        note = t(
            "pages.status.low_volume_detail",
            lang=lang,
            volume=f"{row.volume:,.0f}",
            minimum=f"{row.min_volume:,.0f}",
        )
    elif row.basis == "schedule":
        note = t("pages.status.schedule", lang=lang)
    return {
        "status_note": note,
        "data_until": None if row.data_until is None else row.data_until.isoformat(),
        "pace_basis": _word(row.basis),
        "volume": _number(row.volume),
        "min_volume": _number(row.min_volume),
        "flags": [
            {
                **f.to_json(),
                "badge": t(f"flag.badge.{f.code}", lang=lang),
                "message": f.message(tree, lang),
            }
            for f in (row.flags or ())
        ],
    }


def fmt(value: Any, node: Node, tree: Tree, lang: str) -> str:
    return format_value(value, node.unit_name, tree.currency, lang)


def fmt_card(value: Any, node: Node, tree: Tree, lang: str) -> str:
    """A value on a card: amounts in 万/億 (K/M/B) unless the project's
    ``display.amounts`` is ``full``; tables use :func:`fmt`."""
    if tree.amounts == "full":
        return fmt(value, node, tree, lang)
    return format_compact(value, node.unit_name, tree.currency, lang)


def node_info(tree: Tree, node_id: str, lang: str) -> dict[str, Any]:
    """A node's definition as a page shows it."""
    node = tree.nodes[node_id]
    owner = tree.organisation.departments.get(node.owner or "")
    bench = node.benchmark
    return {
        "id": node.id,
        "label": node.display(lang),
        "kind": node.kind,
        "kind_label": t(f"pages.kind.{node.kind}", lang=lang),
        "unit": node.unit_name,
        "owner": node.owner,
        "owner_label": owner.label.text(lang, owner.id) if owner else node.owner,
        "formula": node.formula_text,
        "children": list(node.children),
        "drivers": list(node.drivers),
        "parents": list(tree.parents(node_id)),
        "metric": node.metric,
        "indicator": node.indicator,
        "direction": node.direction,
        "description": node.description.text(lang) if node.description else None,
        "benchmark": None
        if bench is None
        else {
            "low": bench.low,
            "high": bench.high,
            "source": bench.source,
            "display": _range_text(bench.low, bench.high, node, tree, lang),
        },
    }


def _range_text(low: float | None, high: float | None, node: Node, tree: Tree, lang: str) -> str:
    lo = fmt(low, node, tree, lang) if low is not None else ""
    hi = fmt(high, node, tree, lang) if high is not None else ""
    return f"{lo}–{hi}" if lo and hi else (f"≥ {lo}" if lo else f"≤ {hi}")


def _word(value: Any) -> str | None:
    """A status or source word; anything else (a missing value) is ``None``."""
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def node_numbers(row: NodeStatus | None, node: Node, tree: Tree, lang: str) -> dict[str, Any]:
    """A status row's numbers, raw and formatted (``display``)."""
    values = {
        "actual": row.actual if row else None,
        "target": row.target if row else None,
        "achievement": row.achievement if row else None,
        "expected": row.expected if row else None,
        "pace": row.pace if row else None,
        "forecast": row.forecast if row else None,
        "previous": row.previous if row else None,
        "last_year": row.last_year if row else None,
        "reconciliation": row.reconciliation if row else None,
    }
    values = {k: _number(v) for k, v in values.items()}
    display = {
        k: fmt(v, node, tree, lang) for k, v in values.items() if k not in ("achievement", "pace")
    }
    display["achievement"] = format_value(values["achievement"], "ratio", lang=lang)
    display["pace"] = format_value(values["pace"], "ratio", lang=lang)
    card = {
        k: fmt_card(values[k], node, tree, lang)
        for k in ("actual", "target", "expected", "forecast", "last_year")
    }
    return {
        **values,
        "card": card,
        "source": _word(row.source) if row else None,
        "incomplete": bool(row.incomplete) if row else False,
        **status_badge(
            _word(row.status) if row else None, lang, _word(row.reason) if row else None
        ),
        **status_detail(row, tree, lang),
        "display": display,
    }
