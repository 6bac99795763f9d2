"""Charts as inline SVG, drawn by matplotlib (Agg, no pyplot state) with the
Japanese font Noto Sans CJK JP. Text stays text (``svg.fonttype: none``): the
SVG is a third of the size, and the PDF embeds the font once for the page and
the charts alike (glyphs as paths made the PDF twice as slow to print)."""

from __future__ import annotations

import io
import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from kpitree.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.reports.layout import Chart, Section

__all__ = ["CJK_FONT", "chart_figure", "chart_style", "chart_svg", "require_cjk_font"]

CJK_FONT = "Noto Sans CJK JP"
# Colour-blind-safe pair (actual, reference) and two more series.
_COLOURS = ("#2b6cb0", "#a0aec0", "#dd6b20", "#38a169")


@cache
def _font_file() -> str | None:
    from matplotlib import font_manager

    try:
        found = font_manager.findfont(
            font_manager.FontProperties(family=CJK_FONT), fallback_to_default=False
        )
    except ValueError:
        return None
    return str(found)


def require_cjk_font() -> None:
    """Error KT804 when the Japanese font is not installed (charts and PDFs
    would show empty boxes instead of Japanese text)."""
    if _font_file() is None:
        raise UserError.of("KT804", "reports.no_cjk_font", None, font=CJK_FONT)


def _axis_formatter(unit: str | None, lang: str = "en") -> Any:
    from matplotlib.ticker import FuncFormatter

    def fmt(value: float, _: int) -> str:
        if unit == "ratio":
            return f"{value * 100:.0f}%"
        size = abs(value)
        if unit == "currency" and lang == "ja" and size >= 10_000:
            # Japanese amounts in 万 and 億, without the currency sign.
            for limit, suffix in ((1e8, "億"), (1e4, "万")):
                if size >= limit:
                    return f"{value / limit:,.3g}{suffix}"
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if size >= limit:
                return f"{value / limit:,.1f}{suffix}"
        return f"{value:,.0f}" if size >= 10 or value == int(value) else f"{value:,.1f}"

    return FuncFormatter(fmt)


def _num(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def chart_figure(
    chart: Chart, section: Section, *, width: float = 6.4, height: float = 2.4
) -> Figure:
    """The chart drawn on a matplotlib figure (Agg). The legend sits outside
    the plotting area, to its right, so it never hides a bar or a line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.figure

    require_cjk_font()
    table = section.table(chart.table)
    categories = [str(row[chart.category_column].text) for row in table.rows]
    fig = matplotlib.figure.Figure(figsize=(width, height))
    # Fixed margins (a constrained layout draws every chart twice); the right
    # one leaves room for the legend.
    fig.subplots_adjust(left=0.1, right=0.76, top=0.86, bottom=0.14)
    ax = fig.add_subplot()
    n = len(chart.series_columns)
    xs = list(range(len(categories)))
    running = chart.in_progress is not None and len(xs) > 0
    for i, col in enumerate(chart.series_columns):
        values = [_num(row[col].value) for row in table.rows]
        name = table.columns[col]
        colour = _COLOURS[i % len(_COLOURS)]
        if chart.kind == "line":
            style = "-" if i == 0 else "--"
            done = [*values[:-1], math.nan] if running else values
            ax.plot(xs, done, style, marker="o", markersize=3, color=colour, label=name)
            if running:
                # The last period is still running: its point hollow, joined dotted.
                ax.plot(xs[-2:], values[-2:], ":", color=colour, alpha=0.6)
                ax.plot(
                    xs[-1:], values[-1:], "o", markersize=4, markerfacecolor="white",
                    color=colour,
                )  # fmt: skip
        else:
            bar_width = 0.8 / max(n, 1)
            offset = (i - (n - 1) / 2) * bar_width
            bars = ax.bar([x + offset for x in xs], values, bar_width, color=colour, label=name)
            if running:
                bars[-1].set_alpha(0.45)
                bars[-1].set_hatch("///")
    if running:
        from matplotlib.patches import Patch

        ax.add_artist(
            ax.legend(
                handles=[Patch(facecolor="white", edgecolor="#64748b", hatch="///")],
                labels=[chart.in_progress],
                fontsize=7,
                frameon=False,
                loc="lower left",
                bbox_to_anchor=(1.01, 0.0),
            )
        )
    ax.set_xticks(xs, categories)
    ax.yaxis.set_major_formatter(_axis_formatter(chart.unit, chart.lang))
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(chart.title, fontsize=9, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", color="#e2e8f0", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig


def chart_style(chart: Chart) -> dict[str, Any]:
    """The matplotlib settings every chart is drawn with (``rc_context``)."""
    return {
        "font.family": [CJK_FONT, "DejaVu Sans"],
        "font.size": 8,
        "svg.fonttype": "none",
        # Labels are text: "$...$" in a label is not TeX (a bad one would fail
        # the whole report); matplotlib escapes the text it writes into the SVG.
        "text.parse_math": False,
        "text.usetex": False,
        # Stable ids: two charts on one page must not share clip-path ids,
        # and the same report must give the same SVG.
        "svg.hashsalt": chart.id,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def chart_svg(chart: Chart, section: Section, *, width: float = 6.4, height: float = 2.4) -> str:
    """The chart as an ``<svg>`` element (no XML header), ready to inline."""
    import matplotlib

    with matplotlib.rc_context(chart_style(chart)):  # type: ignore[arg-type]
        fig = chart_figure(chart, section, width=width, height=height)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = re.sub(r"^.*?(?=<svg)", "", buffer.getvalue(), flags=re.DOTALL)
    # The RDF metadata block only names vocabularies; inline it is noise.
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
