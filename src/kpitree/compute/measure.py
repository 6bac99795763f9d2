"""Running metric queries and turning their parts into values, per period and
segment level.

A *level* is a tuple of dimensions (``()`` is the whole company,
``("department", "team")`` every team). Metrics whose parts add up (counts,
sums, averages, conversions) are queried once at the finest level asked for and
summed up to the coarser ones; order statistics and distinct counts are queried
per level. Ratio and derived metrics are then computed row by row from the
values of the metrics they use.

The result of a level is a wide table: one row per period and segment, a column
per metric with its value, and ``<metric>#num`` / ``<metric>#den`` for ratios
and conversions, ``<metric>#n`` for the number of facts behind a value and
``<metric>#q`` for the facts left out of it (sums and averages: facts without a
value; durations: negative ones).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import closing
from functools import partial
from typing import TYPE_CHECKING, Any

from kpitree.compute.columns import Columns, concat, from_arrow, group_labels, rollup
from kpitree.compute.compile import fusable, fused_query, metric_query
from kpitree.compute.compile_stages import STAGE_GROUP, stage_fusable, stage_query
from kpitree.compute.metrics import Catalogue, Metric
from kpitree.compute.querycache import QueryCache, query_cache

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from kpitree.compute.periods import Period
    from kpitree.engines import Engine

__all__ = ["Level", "measure", "measure_columns"]

Level = tuple[str, ...]
_PARTS = ("n", "s", "num", "den", "q")


def _dim_cols(level: Level) -> list[str]:
    return [f"dim__{d}" for d in level]


def _frame(table: pa.Table) -> Columns:
    # Facts on days of the window that belong to no asked period are left out.
    return from_arrow(table)


def _shape(metric: Metric) -> tuple[str, str, str]:
    """What of a metric shapes its SQL (``repr`` of its whole definition)."""
    return (metric.id, repr(metric.spec), repr(metric.sla_rule))


def _spans(periods: Sequence[Period]) -> tuple[tuple[str, str, str, int], ...]:
    return tuple((str(p.start), str(p.end), p.grain, p.fiscal_year_start) for p in periods)


def _rollup(frame: Columns, level: Level, parts: Sequence[str] | None = None) -> Columns:
    keys = ["period", *_dim_cols(level)]
    parts = [c for c in _PARTS if c in frame] if parts is None else list(parts)
    # Sums of fractions are correctly rounded: the same bits on every engine,
    # whatever order the database returned the rows in.
    return rollup(frame, keys, parts)


def _value(metric: Metric, f: Columns) -> tuple[Any, Any, Any, Any]:
    """(value, num, den, n) columns from a metric's parts."""
    import numpy as np

    t = metric.type
    n = f.get("n")
    if t == "count":
        return _floats(f["n"]), None, None, f["n"]
    if t == "sum":
        s = _floats(f["s"])
        return np.where(np.isnan(s), 0.0, s), None, None, n
    if "v" in f:
        return _floats(f["v"]), None, None, n
    if t in ("average", "duration"):
        count = _floats(f["n"])
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(count > 0, _floats(f["s"]) / np.where(count > 0, count, np.nan), np.nan)
        return v, None, None, n
    if t == "conversion":
        den = _floats(f["den"])
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(den > 0, _floats(f["num"]) / np.where(den > 0, den, np.nan), np.nan)
        return v, _floats(f["num"]), den, den
    raise AssertionError(t)  # pragma: no cover


def _floats(column: Any) -> Any:
    import numpy as np

    return np.asarray(column, dtype="float64")


def _wide(
    per_metric: Mapping[str, Columns],
    catalogue: Catalogue,
    level: Level,
    periods: int,
) -> Columns:
    """One row per period and segment (every segment seen in any period), the
    metrics' columns side by side. Rows are placed by position (period x
    segment number), not joined: a segment number comes from grouping the
    segment columns of all parts at once, missing values included."""
    import numpy as np

    dims = _dim_cols(level)
    parts = list(per_metric.items())
    rows = sum(len(f) for _, f in parts)
    segments: dict[str, Any] = {c: np.empty(0, dtype=object) for c in dims}
    if level and rows:
        keys = Columns(
            {c: np.concatenate([np.asarray(f[c], dtype=object) for _, f in parts]) for c in dims},
            rows,
        )
        codes, firsts = group_labels(keys, dims, np.arange(rows, dtype="int64"))
        first = np.asarray(firsts, dtype="int64")  # group k first seen at first[k]
        segments = {c: keys[c][first] for c in dims}
        n_seg = len(firsts)
    elif level:  # no fact at all: no segment, but every column
        codes = np.zeros(0, dtype="int64")
        n_seg = 0
    else:
        codes = np.zeros(rows, dtype="int64")
        n_seg = 1
    size = periods * n_seg
    out: dict[str, Any] = {"period": np.repeat(np.arange(periods, dtype="int64"), n_seg)}
    for c in dims:
        out[c] = np.tile(segments[c], periods)
    offset = 0
    for mid, f in parts:
        metric = catalogue[mid]
        pos = np.asarray(f["period"], dtype="int64") * n_seg + codes[offset : offset + len(f)]
        offset += len(f)
        value, num, den, n = _value(metric, f)
        columns = {mid: value, f"{mid}#num": num, f"{mid}#den": den, f"{mid}#n": n}
        columns[f"{mid}#q"] = f.get("q")  # facts left out: no value, negative duration
        # No fact in a period is zero for counts and sums, not unknown.
        fill = 0.0 if metric.type in ("count", "sum") else np.nan
        for name, column in columns.items():
            if column is None:
                continue
            empty = fill if name in (mid, f"{mid}#n") else np.nan
            array = np.full(size, 0.0 if name == f"{mid}#q" else empty)
            array[pos] = _floats(column)
            out[name] = array
    return Columns(out, size)


def _disjoint(periods: Sequence[Period]) -> list[list[int]]:
    """Indices of ``periods`` in groups whose periods do not overlap."""
    groups: list[list[int]] = []
    ends: list[Any] = []
    for i in sorted(range(len(periods)), key=lambda k: (periods[k].start, periods[k].end)):
        for g, end in enumerate(ends):
            if end < periods[i].start:
                groups[g].append(i)
                ends[g] = periods[i].end
                break
        else:
            groups.append([i])
            ends.append(periods[i].end)
    return groups


def _measure_raw(
    engine: Engine,
    groups: Mapping[tuple[str, str, str], list[Metric]],
    single: Sequence[Metric],
    periods: Sequence[Period],
    levels: Sequence[Level],
    finest: Level,
    filters: Mapping[str, Sequence[str | None]] | None,
    as_of: dt.date | None,
    cache: QueryCache,
    alongside: Sequence[tuple[str, Any]] = (),
) -> dict[Level, dict[str, Columns]]:
    """Parts of every entity metric per level, for non-overlapping periods;
    ``alongside`` queries (``(key, build)`` pairs) run in the same batch, their
    results kept by ``cache`` only."""
    raw: dict[Level, dict[str, Columns]] = {level: {} for level in levels}
    keys = ["period", *_dim_cols(finest)]
    spans = _spans(periods)
    where = tuple(sorted((k, tuple(map(str, v))) for k, v in (filters or {}).items()))

    def key(kind: str, metrics: Sequence[Metric], level: Level) -> str:
        shape = tuple(_shape(m) for m in metrics)
        return cache.fingerprint(engine, kind, shape, spans, level, where, str(as_of))

    # Every finest-level query at once: the database computes the next ones
    # while the results already in are rolled up. The queries placed on first
    # stage entries (they group the whole stage history) start first, so that
    # the longest query does not start last on one cursor while the other idles.
    pairs = list(groups.items())
    order = sorted(range(len(pairs)), key=lambda i: pairs[i][0][1] != STAGE_GROUP)

    def fused(group: tuple[str, str, str], members: list[Metric]) -> tuple[str, Any]:
        if group[1] == STAGE_GROUP:  # placed on first stage entries: one reading of them
            return (
                key("stages", members, finest),
                lambda: stage_query(engine, members, periods, finest, filters, as_of),
            )
        return (
            key("fused", members, finest),
            lambda: fused_query(engine, members, periods, finest, filters),
        )

    queries: list[tuple[str, Any]] = [fused(*pairs[i]) for i in order] + [
        (
            key("single", [metric], finest),
            lambda m=metric: metric_query(engine, m, periods, finest, filters, as_of),
        )
        for metric in single
    ]
    # Queries of other parts of the status, run in the same batch: their results
    # are kept by the cache, where they are found when asked for.
    queries += list(alongside)
    cut: dict[int, dict[Level, dict[str, Columns]]] = {}
    with closing(cache.run_many(engine, queries)) as results:
        for i in order:
            fine = _frame(next(results))
            cut[i] = {}
            for level in levels:
                # One roll-up of the whole fused result per level, then cut per metric.
                parts_of_all = [c for c in fine if c not in keys]
                rolled = fine if level == finest else _rollup(fine, level, parts_of_all)
                level_keys = ["period", *_dim_cols(level)]
                cut[i][level] = {}
                for metric in pairs[i][1]:
                    parts = {p: f"{metric.id}__{p}" for p in _PARTS}
                    cols = [c for c in parts.values() if c in rolled]
                    cut[i][level][metric.id] = rolled.select(
                        [*level_keys, *cols], {v: k for k, v in parts.items()}
                    )
        singles = {metric.id: _frame(next(results)) for metric in single}
        for _ in alongside:
            next(results)
    # In the groups' own order: the order of the metrics decides how segments
    # are numbered, hence the order of the rows.
    for i in range(len(pairs)):
        for level in levels:
            raw[level].update(cut[i][level])
    for metric in single:
        fine = singles[metric.id]
        for level in levels:
            if level == finest:
                raw[level][metric.id] = fine
            elif "v" in fine:  # order statistics do not add up: query each level
                build = partial(metric_query, engine, metric, periods, level, filters, as_of)
                raw[level][metric.id] = _frame(
                    cache.run(engine, key("single", [metric], level), build)
                )
            else:
                raw[level][metric.id] = _rollup(fine, level)
    return raw


def measure(
    engine: Engine,
    catalogue: Catalogue,
    metric_ids: Sequence[str],
    periods: Sequence[Period],
    levels: Sequence[Level] = ((),),
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
    cache: QueryCache | None = None,
) -> dict[Level, pd.DataFrame]:
    """Values of ``metric_ids`` (and what they are computed from) for every
    period and every segment of each level. With ``as_of``, second events of
    conversions and durations after that day are not known yet. ``cache`` keeps
    the compiled SQL (default: the process-wide in-memory cache)."""
    got = measure_columns(engine, catalogue, metric_ids, periods, levels, filters, as_of, cache)
    return {level: table.to_pandas() for level, table in got.items()}


def measure_columns(
    engine: Engine,
    catalogue: Catalogue,
    metric_ids: Sequence[str],
    periods: Sequence[Period],
    levels: Sequence[Level] = ((),),
    filters: Mapping[str, Sequence[str | None]] | None = None,
    as_of: dt.date | None = None,
    cache: QueryCache | None = None,
    alongside: Sequence[tuple[str, Any]] = (),
) -> dict[Level, Columns]:
    """:func:`measure` as NumPy columns (:class:`~kpitree.compute.columns.Columns`).
    ``alongside``: other ``(key, build)`` queries to run in the same batch as the
    first metric queries (see :meth:`QueryCache.run_many`); only their results
    kept by ``cache`` remain, for whoever asks for them next."""
    import numpy as np

    from kpitree.compute.vector import evaluate_columns

    ids = catalogue.closure(list(metric_ids))
    finest: Level = tuple(dict.fromkeys(d for level in levels for d in level))
    groups: dict[tuple[str, str, str], list[Metric]] = {}
    single: list[Metric] = []
    apart, absent = _applicable(engine, catalogue, ids, levels, finest, filters)
    for mid in ids:
        metric = catalogue[mid]
        if metric.entity is None or mid in apart:
            continue
        key = stage_fusable(metric) or fusable(metric)
        if "target_account" in (*finest, *(filters or {})):
            key = None  # its account columns are joined per metric
        if key is None:
            single.append(metric)
        else:
            groups.setdefault(key, []).append(metric)
    collected: dict[Level, dict[str, list[Columns]]] = {level: {} for level in levels}
    # Overlapping periods (a quarter and one of its months, this year to date and
    # the whole of last year) are measured in separate passes: a fact is placed
    # in one period per query.
    for n, members_idx in enumerate(_disjoint(periods)):
        part = [periods[i] for i in members_idx]
        remap = np.asarray(members_idx, dtype="int64")
        got = _measure_raw(
            engine,
            groups,
            single,
            part,
            levels,
            finest,
            filters,
            as_of,
            cache or query_cache(),
            alongside if n == 0 else (),
        )
        _measure_apart(engine, catalogue, apart, part, filters, as_of, cache or query_cache(), got)
        for level, frames in got.items():
            for mid, frame in frames.items():
                period = remap[np.asarray(frame["period"]).astype("int64")]
                collected[level].setdefault(mid, []).append(frame.with_columns({"period": period}))
    raw: dict[Level, dict[str, Columns]] = {
        level: {mid: concat(parts) for mid, parts in frames.items()}
        for level, frames in collected.items()
    }
    out: dict[Level, Columns] = {}
    for level in levels:
        wide = _wide(raw[level], catalogue, level, len(periods))
        missing = {
            f"{mid}{suffix}": np.full(len(wide), np.nan)
            for mid in absent.get(level, {})
            for suffix in ("", "#num", "#den", "#n")
        }
        # A metric no query ran for (every period asked starts after as_of, so
        # nothing is measured) has no value: its columns are there, empty.
        missing.update(
            {
                f"{mid}{suffix}": np.full(len(wide), np.nan)
                for mid in ids
                if catalogue[mid].entity is not None and mid not in wide.columns
                for suffix in ("", "#num", "#den", "#n")
            }
        )
        if missing:
            wide = wide.with_columns(missing)
        extra: dict[str, Any] = {}
        for mid in ids:
            metric = catalogue[mid]
            if metric.expr is None:
                continue
            known = {**{c: wide[c] for c in metric.uses if c in wide}, **extra}
            extra[mid] = evaluate_columns(metric.expr, known) + np.zeros(len(wide))
            if metric.type == "ratio":
                assert metric.spec.numerator and metric.spec.denominator
                extra[f"{mid}#num"] = known[metric.spec.numerator]
                extra[f"{mid}#den"] = extra[f"{mid}#n"] = known[metric.spec.denominator]
        if extra:
            wide = wide.with_columns(extra)
        out[level] = wide
        out[level].attrs["not_applicable"] = absent.get(level, {})
    return out


def _applicable(
    engine: Engine,
    catalogue: Catalogue,
    ids: Sequence[str],
    levels: Sequence[Level],
    finest: Level,
    filters: Mapping[str, Sequence[str | None]] | None,
) -> tuple[dict[str, list[Level]], dict[Level, dict[str, tuple[str, ...]]]]:
    """Metrics that cannot be split or filtered by every dimension asked for
    (renewals have no lead channel): the levels each is measured at apart,
    and per level the metrics that are not applicable there, with the
    dimensions they lack (their values are NaN, never an unfiltered number).
    A dimension no metric has is an error (``KT530``, with "did you mean")."""
    from kpitree.compute.segments import check_dimensions, custom_dimensions, dimensions_of

    custom = custom_dimensions(engine)
    entity_metrics = [catalogue[m] for m in ids if catalogue[m].entity is not None]
    asked = list(dict.fromkeys([*finest, *(filters or {})]))
    for dim in asked:
        if entity_metrics and not any(
            dim in dimensions_of(m.entity, custom) for m in entity_metrics if m.entity is not None
        ):
            first = entity_metrics[0]
            assert first.entity is not None
            check_dimensions(first.entity, [dim], first.id, custom)
    apart: dict[str, list[Level]] = {}
    absent: dict[Level, dict[str, tuple[str, ...]]] = {}
    for metric in entity_metrics:
        if metric.type.startswith("sla_"):
            continue  # SLA metrics check their own dimensions (KT760)
        assert metric.entity is not None
        available = set(dimensions_of(metric.entity, custom))
        lacking = [d for d in asked if d not in available]
        if not lacking:
            continue
        unfiltered = [d for d in (filters or {}) if d not in available]
        apart[metric.id] = [] if unfiltered else [lv for lv in levels if set(lv) <= available]
        for level in levels:
            if level not in apart[metric.id]:
                missing = tuple(d for d in [*unfiltered, *level] if d not in available)
                absent.setdefault(level, {})[metric.id] = missing
    return apart, absent


def _measure_apart(
    engine: Engine,
    catalogue: Catalogue,
    apart: Mapping[str, list[Level]],
    periods: Sequence[Period],
    filters: Mapping[str, Sequence[str | None]] | None,
    as_of: dt.date | None,
    cache: QueryCache,
    raw: dict[Level, dict[str, Columns]],
) -> None:
    """Measure each metric of ``apart`` at the levels it can be split by, one
    query per level (:func:`measure` adds the other levels' columns as NaN)."""
    where = tuple(sorted((k, tuple(map(str, v))) for k, v in (filters or {}).items()))
    for mid, levels in apart.items():
        metric = catalogue[mid]
        for level in levels:
            key = cache.fingerprint(
                engine, "single", (_shape(metric),), _spans(periods), level, where, str(as_of)
            )
            build = partial(metric_query, engine, metric, periods, level, filters, as_of)
            raw[level][mid] = _frame(cache.run(engine, key, build))
