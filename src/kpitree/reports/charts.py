"""Charts as inline SVG, drawn by matplotlib (Agg, no pyplot state) with the
Japanese font Noto Sans CJK JP, in the look :mod:`kpitree.chartstyle` defines
for the dashboard too (the funnel is that module's own drawing). Text stays
text (``svg.fonttype: none``): the SVG is a third of the size, and the PDF
embeds the font once for the page and the charts alike (glyphs as paths made
the PDF twice as slow to print)."""

from __future__ import annotations

import io
import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from kpitree import chartstyle
from kpitree.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kpitree.reports.layout import Chart, Section

__all__ = [
    "CJK_FONT",
    "chart_figure",
    "chart_style",
    "chart_svg",
    "funnel_chart_svg",
    "require_cjk_font",
]

CJK_FONT = "Noto Sans CJK JP"


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
                    scaled = value / limit
                    # 4,000万 (not "4e+03万"), 1.25億
                    return (
                        f"{scaled:,.0f}{suffix}" if abs(scaled) >= 100 else f"{scaled:,.3g}{suffix}"
                    )
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if size >= limit:
                return f"{value / limit:,.1f}{suffix}"
        return f"{value:,.0f}" if size >= 10 or value == int(value) else f"{value:,.1f}"

    return FuncFormatter(fmt)


def _num(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _dashes(role: str) -> tuple[float, ...] | None:
    dash = chartstyle.DASHES.get(role)
    return tuple(float(x) for x in dash.split()) if dash else None


def chart_figure(
    chart: Chart,
    section: Section,
    *,
    width: float = chartstyle.REPORT_FIGURE[0],
    height: float = chartstyle.REPORT_FIGURE[1],
) -> Figure:
    """The chart drawn on a matplotlib figure (Agg). The legend sits outside
    the plotting area, to its right, so it never hides a bar or a line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.figure

    require_cjk_font()
    table = section.table(chart.table)
    # "10月 (進行中)" on two lines: a long tick label would run into the next.
    categories = [str(row[chart.category_column].text).replace(" (", "\n(") for row in table.rows]
    fig = matplotlib.figure.Figure(figsize=(width, height))
    # Fixed margins (a constrained layout draws every chart twice); the right
    # one leaves room for the legend.
    fig.subplots_adjust(left=0.1, right=0.76, top=0.86, bottom=0.14)
    ax = fig.add_subplot()
    n = len(chart.series_columns)
    xs = list(range(len(categories)))
    running = chart.in_progress is not None and len(xs) > 0
    partial = chartstyle.PARTIAL
    roles = list(chart.roles) or [""] * n
    colours = chartstyle.series_colours(chart.roles or None, n)
    at = (len(xs) - 1 if chart.running_row is None else chart.running_row) if running else None
    for i, col in enumerate(chart.series_columns):
        values = [_num(row[col].value) for row in table.rows]
        name = table.columns[col]
        colour = colours[i]
        if chart.kind == "line":
            # Only the actual is measured: a running period cuts it short;
            # targets and forecasts are drawn whole.
            cut = at if i == 0 else None
            done = [math.nan if cut is not None and j >= cut else v for j, v in enumerate(values)]
            (line,) = ax.plot(xs, done, marker="o", markersize=3, color=colour, label=name)
            dashes = _dashes(roles[i]) if i else None
            if dashes:
                line.set_dashes(dashes)
            if cut is not None:
                # The period still running: its point hollow, joined dashed and lighter.
                (tail,) = ax.plot(
                    xs[max(cut - 1, 0) : cut + 1],
                    values[max(cut - 1, 0) : cut + 1],
                    color=colour,
                    alpha=partial.opacity,
                )
                tail.set_dashes(tuple(float(x) for x in partial.dash.split()))
                ax.plot(
                    xs[cut : cut + 1], values[cut : cut + 1], "o", markersize=4,
                    markerfacecolor="white", color=colour,
                )  # fmt: skip
        else:
            bar_width = 0.8 / max(n, 1)
            offset = (i - (n - 1) / 2) * bar_width
            bars = ax.bar([x + offset for x in xs], values, bar_width, color=colour, label=name)
            if at is not None and i == 0:  # the actual; targets are not measured
                bars[at].set_alpha(partial.opacity)
                bars[at].set_hatch(partial.hatch)
    if chart.in_progress is not None and running:
        from matplotlib.patches import Patch

        ax.add_artist(
            ax.legend(
                handles=[Patch(facecolor="white", edgecolor=chartstyle.MUTED, hatch=partial.hatch)],
                # On two lines: the legend beside the plot has little room.
                labels=[chart.in_progress.replace("（", "\n（").replace(" (", "\n(")],
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
    ax.grid(axis="y", color=chartstyle.GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    return fig


def chart_style(chart: Chart) -> dict[str, Any]:
    """The matplotlib settings every chart is drawn with (``rc_context``)."""
    return {
        "font.family": [CJK_FONT, "DejaVu Sans"],
        "font.size": chartstyle.REPORT_FONT_PT,
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


def funnel_chart_svg(chart: Chart, section: Section) -> str:
    """The funnel section's chart: the stages' counts as the Funnel page draws
    them (:func:`kpitree.chartstyle.funnel_svg`), each conversion between two
    stages written with the two counts it divides."""
    table = section.table(chart.table)
    count, rate = chart.series_columns[0], chart.link_column
    rows: list[chartstyle.FunnelBar | chartstyle.FunnelLink | None] = []
    for i, row in enumerate(table.rows):
        if i and rate is not None:
            before = table.rows[i - 1]
            detail = f"{row[count].text} / {before[count].text}"
            rows.append(chartstyle.FunnelLink(before[rate].text, detail))
        label = str(row[chart.category_column].text)
        value = _num(row[count].value)
        rows.append(
            chartstyle.FunnelBar(label, None if math.isnan(value) else value, row[count].text)
        )
    return chartstyle.funnel_svg(
        rows,
        title=chart.title,
        partial=chart.in_progress,
        view=chart.id,
    )


def chart_svg(
    chart: Chart,
    section: Section,
    *,
    width: float = chartstyle.REPORT_FIGURE[0],
    height: float = chartstyle.REPORT_FIGURE[1],
) -> str:
    """The chart as an ``<svg>`` element (no XML header), ready to inline."""
    import matplotlib

    if chart.kind == "funnel":
        return funnel_chart_svg(chart, section)

    with matplotlib.rc_context(chart_style(chart)):  # type: ignore[arg-type]
        fig = chart_figure(chart, section, width=width, height=height)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = re.sub(r"^.*?(?=<svg)", "", buffer.getvalue(), flags=re.DOTALL)
    # The RDF metadata block only names vocabularies; inline it is noise.
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
