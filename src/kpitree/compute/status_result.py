"""What a status gives: every node's numbers per period and segment as
columns (:class:`StatusResult`), with a row object (:class:`NodeStatus`) made
only when one is read, and their JSON. Computed by
:func:`kpitree.compute.status.compute_status`."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kpitree.compute.columns import Columns
from kpitree.compute.explain import Bottleneck
from kpitree.compute.judge import Flag
from kpitree.compute.measure import Level
from kpitree.compute.periods import Period
from kpitree.compute.status_table import NUMBERS
from kpitree.compute.targets import SegmentKey
from kpitree.planning.attribution import Attribution

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


__all__ = ["NodeStatus", "StatusResult"]


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f


@dataclass(frozen=True)
class NodeStatus:
    """A node's figures and status for one period and segment."""

    node: str
    period: str
    segment: SegmentKey
    actual: float | None
    source: str | None  # measured | computed | implied
    target: float | None
    achievement: float | None  # actual / target (inverted when lower is better)
    expected: float | None  # expected-to-date
    pace: float | None  # actual / expected-to-date (inverted when lower is better)
    forecast: float | None
    status: str | None  # on_track | at_risk | off_track
    previous: float | None
    last_year: float | None
    reconciliation: float | None  # measured - computed from children
    volume: float | None  # facts behind the value (denominator for rates)
    incomplete: bool = False  # a cohort whose conversion window is still open
    min_volume: float | None = None  # below it a rate or average is low_volume
    reason: str | None = None  # why there is no status: no_target | no_actual | ...
    data_until: dt.date | None = None  # day of the source's latest fact
    basis: str | None = None  # how expected-to-date was paced
    flags: tuple[Flag, ...] = ()
    converted: float | None = None  # a conversion's converted entrants (volume: entrants)
    missing_values: float | None = None  # facts without a value, left out of a sum/average
    negative_durations: float | None = None  # durations below zero, left out

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "period": self.period,
            "segment": dict(self.segment),
            "actual": self.actual,
            "source": self.source,
            "target": self.target,
            "achievement": self.achievement,
            "expected_to_date": self.expected,
            "pace": self.pace,
            "forecast": self.forecast,
            "status": self.status,
            "previous": self.previous,
            "last_year": self.last_year,
            "reconciliation": self.reconciliation,
            "volume": self.volume,
            "incomplete": self.incomplete,
            "min_volume": self.min_volume,
            "status_reason": self.reason,
            "data_until": None if self.data_until is None else self.data_until.isoformat(),
            "pace_basis": self.basis,
            "flags": [f.to_json() for f in self.flags],
            "converted": self.converted,
            "missing_values": self.missing_values,
            "negative_durations": self.negative_durations,
        }


# The number columns of ``StatusResult.frame`` are NUMBERS (besides node, period and segment).
# Object columns of the frame besides node, period and segment.
TEXTS = ("source", "status", "reason", "data_until", "basis", "flags")
# The columns a row takes as they are.
_ROW_TEXTS = ("node", "period", "segment", *TEXTS)
# The keys of NodeStatus.to_json, in order, and the columns they come from.
_JSON_FIELDS = (
    ("node", "node"),
    ("period", "period"),
    ("segment", "segment"),
    ("actual", "actual"),
    ("source", "source"),
    ("target", "target"),
    ("achievement", "achievement"),
    ("expected_to_date", "expected"),
    ("pace", "pace"),
    ("forecast", "forecast"),
    ("status", "status"),
    ("previous", "previous"),
    ("last_year", "last_year"),
    ("reconciliation", "reconciliation"),
    ("volume", "volume"),
    ("incomplete", "incomplete"),
    ("min_volume", "min_volume"),
    ("status_reason", "reason"),
    ("data_until", "data_until"),
    ("pace_basis", "basis"),
    ("flags", "flags"),
    ("converted", "converted"),
    ("missing_values", "missing_values"),
    ("negative_durations", "negative_durations"),
)


@dataclass
class StatusResult:
    """Status of every node per period and segment.

    ``table`` is the result as NumPy columns (one row per level, period,
    segment and node, in that order; numbers are floats with NaN for "none");
    ``frame`` the same as a pandas DataFrame and ``rows`` as
    :class:`NodeStatus` objects, each built on first use.
    """

    periods: list[Period]
    levels: list[Level]
    as_of: dt.date
    table: Columns
    bottleneck: Bottleneck | None = None
    attribution_vs_target: Attribution | None = None
    """The KGI's gap to pace (expected-to-date) split over the inputs; the gap
    to target once the period is over (see :mod:`kpitree.compute.explain`)."""
    attribution_vs_previous: Attribution | None = None
    attribution_forecast_vs_target: Attribution | None = None
    """The whole period: the KGI's forecast against its target, by input."""
    gap_basis: str = "target"  # pace while the last period asked runs, then target
    filled_from_plan: tuple[str, ...] = ()
    """Inputs without data that took their plan value in the attributions."""
    segment_gaps: dict[Level, list[tuple[SegmentKey, float]]] = field(default_factory=dict)
    not_applicable: dict[Level, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """Per level, the measured nodes whose metric cannot be split or filtered
    by a dimension asked for, with those dimensions (their values are none)."""
    _rows: list[NodeStatus] | None = field(default=None, repr=False)
    _frame: pd.DataFrame | None = field(default=None, repr=False)
    _index: dict[tuple[str, str, SegmentKey], int] | None = field(default=None, repr=False)
    _arrays: dict[str, Any] | None = field(default=None, repr=False)
    _levels: tuple[dict[Level, int], np.ndarray] | None = field(default=None, repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (object columns stay objects)."""
        if self._frame is None:
            self._frame = self.table.to_pandas()
        return self._frame

    @property
    def rows(self) -> list[NodeStatus]:
        if self._rows is None:
            self._rows = self._make_all()
        return self._rows

    def _numbers(self) -> list[list[float | None]]:
        """The NUMBERS columns as lists, as :func:`_num` gives each value."""
        import numpy as np

        cols = self._columns()
        numbers = []
        for name in NUMBERS:
            column = cols[name]
            if column.dtype.kind != "f":
                numbers.append([_num(v) for v in column.tolist()])
                continue
            values = column.tolist()  # Python floats
            for i in (~np.isfinite(column)).nonzero()[0].tolist():
                values[i] = None
            numbers.append(values)
        return numbers

    def json_rows(self, flag_json: Callable[[Flag], Any] | None = None) -> list[dict[str, Any]]:
        """Every row as :meth:`NodeStatus.to_json` gives it (a flag as
        ``flag_json`` gives it, else its own ``to_json``), built a column at a
        time without making the rows."""
        keys, columns = self.json_columns(flag_json)
        at = keys.index("segment")
        columns[at] = [dict(seg) for seg in columns[at]]  # each row its own
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]

    def json_columns(
        self, flag_json: Callable[[Flag], Any] | None = None
    ) -> tuple[list[str], list[list[Any]]]:
        """The keys of :meth:`json_rows` and a column of values per key, without
        a dict per row; rows of the same segment share its dict."""
        cols = self._columns()
        by_name: dict[str, list[Any]] = dict(zip(NUMBERS, self._numbers(), strict=True))
        to_json = flag_json or (lambda f: f.to_json())
        segments: dict[SegmentKey, dict[str, str | None]] = {}
        by_name.update(
            node=cols["node"].tolist(),
            period=cols["period"].tolist(),
            segment=[
                segments.get(seg) or segments.setdefault(seg, dict(seg))
                for seg in cols["segment"].tolist()
            ],
            source=cols["source"].tolist(),
            status=cols["status"].tolist(),
            incomplete=[bool(v) for v in cols["incomplete"].tolist()],
            reason=cols["reason"].tolist(),
            data_until=[None if d is None else d.isoformat() for d in cols["data_until"].tolist()],
            basis=cols["basis"].tolist(),
            flags=[[to_json(f) for f in fl] if fl else [] for fl in cols["flags"].tolist()],
        )
        return [key for key, _ in _JSON_FIELDS], [by_name[name] for _, name in _JSON_FIELDS]

    def _make_all(self) -> list[NodeStatus]:
        """Every row, as :meth:`_make` gives each, numbers converted a column at a time."""
        cols = self._columns()
        numbers = self._numbers()
        texts = [cols[c].tolist() for c in _ROW_TEXTS]
        incomplete = [bool(v) for v in cols["incomplete"].tolist()]
        return [
            NodeStatus(
                **dict(zip(_ROW_TEXTS, row[: len(_ROW_TEXTS)], strict=True)),
                incomplete=incomplete[i],
                **dict(zip(NUMBERS, row[len(_ROW_TEXTS) :], strict=True)),
            )
            for i, row in enumerate(zip(*texts, *numbers, strict=True))
        ]

    def _make(self, i: int) -> NodeStatus:
        cols = self._columns()
        nums = {name: _num(cols[name][i]) for name in NUMBERS}
        return NodeStatus(
            node=cols["node"][i],
            period=cols["period"][i],
            segment=cols["segment"][i],
            source=cols["source"][i],
            status=cols["status"][i],
            incomplete=bool(cols["incomplete"][i]),
            reason=cols["reason"][i],
            data_until=cols["data_until"][i],
            basis=cols["basis"][i],
            flags=cols["flags"][i],
            **nums,
        )

    def _columns(self) -> dict[str, Any]:
        if self._arrays is None:
            self._arrays = {c: self.table[c] for c in self.table.columns}
        return self._arrays

    def row(self, node: str, period: str | None = None, segment: SegmentKey = ()) -> NodeStatus:
        period = period or self.periods[-1].key
        if self._index is None:
            cols = self._columns()
            self._index = {
                (n, p, seg): i
                for i, (n, p, seg) in enumerate(
                    zip(cols["node"], cols["period"], cols["segment"], strict=True)
                )
            }
        i = self._index.get((node, period, segment))
        if i is None:
            raise KeyError((node, period, segment))
        return self.rows[i] if self._rows is not None else self._make(i)

    def select(
        self,
        *,
        node: str | None = None,
        period: str | None = None,
        level: Level | None = None,
    ) -> list[NodeStatus]:
        """The rows of ``node``, ``period`` and segment ``level`` (``()``: the
        company), each left out to mean all, in the order of :attr:`rows`;
        found on the columns, without making the other rows."""
        import numpy as np

        cols = self._columns()
        keep = np.ones(len(self.table), dtype=bool)
        if node is not None:
            keep &= cols["node"] == node
        if period is not None:
            keep &= cols["period"] == period
        if level is not None:
            codes, per_row = self._level_codes()
            keep &= per_row == codes.get(level, -1)
        made = self._rows
        return [made[i] if made is not None else self._make(i) for i in keep.nonzero()[0].tolist()]

    def _level_codes(self) -> tuple[dict[Level, int], np.ndarray]:
        """A number per segment level, and each row's (made once)."""
        import numpy as np

        if self._levels is None:
            codes: dict[Level, int] = {}
            per_row = np.fromiter(
                (
                    codes.setdefault(tuple(d for d, _ in seg), len(codes))
                    for seg in self._columns()["segment"]
                ),
                dtype="int64",
                count=len(self.table),
            )
            self._levels = (codes, per_row)
        return self._levels

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a table with a ``segment.<dimension>`` column per dimension."""
        out = self.frame.rename(columns={"expected": "expected_to_date"})
        numbers = [c if c != "expected" else "expected_to_date" for c in NUMBERS]
        out[numbers] = out[numbers].astype("object").where(out[numbers].notna(), None)
        dims = list(dict.fromkeys(d for level in self.levels for d in level))
        for d in dims:
            out[f"segment.{d}"] = [dict(seg).get(d) for seg in out["segment"]]
        order = [
            "node", "period", "actual", "source", "target", "achievement",
            "expected_to_date", "pace", "forecast", "status", "previous", "last_year",
            "reconciliation", "volume", "incomplete", "min_volume", "reason", "data_until",
            "basis", "flags", "converted", "missing_values", "negative_durations",
        ]  # fmt: skip
        return out[[*order, *(f"segment.{d}" for d in dims)]].reset_index(drop=True)
