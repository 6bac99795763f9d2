"""How a kpitree chart looks, in one place: the dashboard (ECharts charts,
inline SVG sparklines and funnels) and the review reports (matplotlib SVG in
HTML and PDF, native Excel charts) take their colours, sizes and the look of
a period still running from here, so a chart reads the same on a page and in
a report.

The funnel is drawn here too (:func:`funnel_svg`), as inline SVG: bar widths
proportional to the counts, the conversion written between each pair. The
Funnel page and the report's funnel section print the same drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = [
    "FONT_SIZE",
    "FUNNEL",
    "NEGATIVE",
    "NOTE",
    "PARTIAL",
    "POSITIVE",
    "REPORT_FIGURE",
    "SERIES",
    "SPARKLINE",
    "XLSX_CHART",
    "FunnelBar",
    "FunnelLink",
    "funnel_svg",
    "series_colours",
    "web_style",
]

# Series colours by role, colour-blind safe: actual vs reference is blue vs
# grey, and every line also differs by its dash (never by colour alone).
SERIES: dict[str, str] = {
    "actual": "#2b6cb0",
    "target": "#718096",
    "forecast": "#dd6b20",
    "last_year": "#38a169",
    "expected": "#805ad5",  # where the target's pace stands today
}
# Series drawn by role in this order when a chart names no role (reports).
_ORDER = ("actual", "target", "forecast", "last_year", "expected")
# Dash of a line by role (SVG dash arrays; solid when absent).
DASHES: dict[str, str] = {
    "target": "6 3",
    "forecast": "2 2",
    "last_year": "8 2 2 2",
    "expected": "4 2",
}
POSITIVE = "#1e7b3c"  # a contribution that closes a gap
NEGATIVE = "#b3261e"  # one that widens it
GRID = "#e2e8f0"
TEXT = "#1a202c"
MUTED = "#4a5568"
FONT_SIZE = 11  # px on a page; reports use the point size below
REPORT_FONT_PT = 8
NOTE = {"line": "#7a4d00", "band": "rgba(255, 196, 0, 0.15)"}


@dataclass(frozen=True)
class PartialStyle:
    """How the last period, still running, is drawn on every chart: lighter,
    hatched (bars) or dashed (lines), with a word beside it (the word comes
    from the catalogs: ``pages.ui.in_progress``, ``reports.chart.in_progress``)."""

    opacity: float = 0.45
    hatch: str = "///"  # matplotlib hatch of a bar
    dash: str = "2 2"  # SVG dash of a line segment
    hatch_gap: int = 4  # px between the stripes of an SVG/ECharts hatch


PARTIAL = PartialStyle()


@dataclass(frozen=True)
class SparklineSize:
    width: int = 100  # viewBox units; the SVG stretches to its cell
    height: int = 24
    pad: int = 2
    stroke: float = 1.5


SPARKLINE = SparklineSize()
CHART_HEIGHT_PX = 300  # a chart on a page
REPORT_FIGURE = (6.4, 2.4)  # inches: a report chart (HTML/PDF)
XLSX_CHART = (16.0, 7.5)  # cm: width, height of a native Excel chart


@dataclass(frozen=True)
class FunnelSize:
    width: int = 640  # viewBox width; the SVG scales to its box
    label: int = 150  # room for the stage name on the left
    bar: int = 34  # height of a stage's bar (its name and count beside it)
    link: int = 26  # height of the conversion row between two bars
    gap: int = 24  # between two steps that do not chain (cohort view)
    min_bar: float = 2.0  # a stage of 0 still shows as a sliver


FUNNEL = FunnelSize()


def series_colours(roles: Sequence[str] | None = None, count: int = 0) -> list[str]:
    """Colours of a chart's series, by role (``actual``, ``target``, …) or,
    without roles, the first ``count`` in the usual order."""
    names = list(roles) if roles else list(_ORDER[: max(count, 0)])
    return [SERIES.get(r, SERIES[_ORDER[i % len(_ORDER)]]) for i, r in enumerate(names)]


def web_style() -> dict[str, Any]:
    """The style as JSON for the dashboard's scripts (``charts.js`` reads it
    from the page; nothing in the scripts names a colour)."""
    return {
        "series": dict(SERIES),
        "dashes": dict(DASHES),
        "positive": POSITIVE,
        "negative": NEGATIVE,
        "grid": GRID,
        "text": TEXT,
        "muted": MUTED,
        "font_size": FONT_SIZE,
        "note": dict(NOTE),
        "partial": {
            "opacity": PARTIAL.opacity,
            "dash": PARTIAL.dash,
            "hatch_gap": PARTIAL.hatch_gap,
        },
        "chart_height": CHART_HEIGHT_PX,
        "sparkline": {
            "width": SPARKLINE.width,
            "height": SPARKLINE.height,
            "stroke": SPARKLINE.stroke,
        },
    }


# -- the funnel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelBar:
    """A stage of a funnel: its name, its count and the count as printed."""

    label: str
    value: float | None
    display: str
    key: str = ""  # a node id (data attribute: tests and links find the bar)
    href: str | None = None  # the records behind the count


@dataclass(frozen=True)
class FunnelLink:
    """The conversion between the bars around it, as printed (``25.0%``,
    with ``12 / 48`` when the counts are given)."""

    display: str
    detail: str = ""
    key: str = ""  # the rate's node id
    warn: bool = False  # the bottleneck: drawn bold, with a mark


def funnel_svg(
    rows: Sequence[FunnelBar | FunnelLink | None],
    *,
    title: str,
    partial: str | None = None,
    view: str = "period",
) -> str:
    """A funnel as an inline ``<svg>``: each bar centred, its width the count
    over the largest count; a :class:`FunnelLink` between two bars writes the
    conversion; ``None`` leaves a gap (two steps that do not chain).
    ``partial``: the word saying the period is still running (the bars are
    then hatched and lighter, and the word is written under the funnel)."""
    f = FUNNEL
    values = [r.value or 0.0 for r in rows if isinstance(r, FunnelBar)]
    top = max(values, default=0.0) or 1.0
    span = f.width - f.label - 8
    centre = f.label + span / 2
    out: list[str] = []
    y = 4.0
    hatch_id = f"kt-hatch-{view}"
    fill = SERIES["actual"]
    for row in rows:
        if row is None:
            y += f.gap
            continue
        if isinstance(row, FunnelBar):
            value = row.value or 0.0
            width = max(span * value / top, f.min_bar)
            x = centre - width / 2
            name = escape(row.label)
            bar = (
                f'<rect class="kt-funnel-bar" data-stage="{escape(row.key)}" '
                f'data-value="{value:g}" x="{x:.2f}" y="{y:.1f}" width="{width:.2f}" '
                f'height="{f.bar}" fill="{fill}"'
                + (f' fill-opacity="{PARTIAL.opacity}"' if partial else "")
                + f"><title>{name}: {escape(row.display)}</title></rect>"
            )
            if partial:
                bar += (
                    f'<rect x="{x:.2f}" y="{y:.1f}" width="{width:.2f}" height="{f.bar}" '
                    f'fill="url(#{hatch_id})" pointer-events="none"/>'
                )
            # Name and count in the column left of the bar (text over a
            # bar would need a halo that PDF renderers draw as a blot).
            label = (
                f'<text x="{f.label - 8}" y="{y + f.bar / 2 - 2:.1f}" text-anchor="end" '
                f'fill="{TEXT}">{name}</text>'
            )
            count = (
                f'<text class="kt-funnel-count" x="{f.label - 8}" y="{y + f.bar - 2:.1f}" '
                f'text-anchor="end" fill="{TEXT}" font-weight="700">{escape(row.display)}</text>'
            )
            if row.href:
                count = f'<a href="{escape(row.href)}">{count}</a>'
            out += [bar, label, count]
            y += f.bar
        else:
            text = escape(row.display) + (f" ({escape(row.detail)})" if row.detail else "")
            mark = "⚠ " if row.warn else "↓ "
            weight = ' font-weight="700"' if row.warn else ""
            out.append(
                f'<text class="kt-funnel-rate" data-rate="{escape(row.key)}" '
                f'x="{centre:.2f}" y="{y + f.link / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{MUTED}"{weight}>{mark}{text}</text>'
            )
            y += f.link
    if partial:
        y += 4
        out.append(
            f'<text class="kt-funnel-partial" x="{f.label}" y="{y + 12:.1f}" '
            f'fill="{MUTED}">▨ {escape(partial)}</text>'
        )
        y += 18
    height = y + 4
    defs = (
        f'<defs><pattern id="{hatch_id}" width="{PARTIAL.hatch_gap}" '
        f'height="{PARTIAL.hatch_gap}" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" '
        f'y2="{PARTIAL.hatch_gap}" stroke="#fff" stroke-width="1.5"/></pattern></defs>'
        if partial
        else ""
    )
    return (
        f'<svg class="kt-funnel" data-view="{escape(view)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {f.width} {height:.0f}" width="100%" role="figure" '
        f'aria-label="{escape(title)}" font-size="{FONT_SIZE + 1}" '
        f"font-family=\"'Noto Sans CJK JP', sans-serif\">"
        f"<title>{escape(title)}</title>{defs}{''.join(out)}</svg>"
    )
