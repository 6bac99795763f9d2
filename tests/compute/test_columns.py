"""Roll-ups without pandas: NumPy columns from Arrow, and group sums that are
correctly rounded (``math.fsum``), so the same whatever order the database
returned the rows in, and equal to pandas' group sums to the last bits."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kpitree.compute.columns import Columns, from_arrow, group_labels, rollup, to_numpy


def _pandas_rollup(table: pa.Table, keys: list[str], parts: list[str]) -> pd.DataFrame:
    """The roll-up as pandas computes it."""
    frame = table.to_pandas()
    frame = frame[frame["period"].notna()].reset_index(drop=True)
    return frame.groupby(keys, dropna=False, sort=False)[parts].sum().reset_index()


def _table(rng: np.random.Generator, rows: int) -> pa.Table:
    teams = [None, "東日本営業部", "CS", "Sales", "b"]
    reps = [None, *(f"rep{i}" for i in range(30))]
    # Money of every magnitude, cancelling signs, missing values, an infinity:
    # a naive sum in another order gives other bits.
    sums = rng.standard_normal(rows) * 10.0 ** rng.integers(-3, 12, rows)
    s: list[float | None] = [None if rng.random() < 0.1 else float(x) for x in sums]
    if rows and rng.random() < 0.2:
        s[0] = float("inf")
    return pa.table(
        {
            "period": pa.array(
                [int(p) if p < 3 else None for p in rng.integers(0, 4, rows)], pa.int64()
            ),
            "dim__team": pa.array([teams[i] for i in rng.integers(0, len(teams), rows)]),
            "dim__rep": pa.array([reps[i] for i in rng.integers(0, len(reps), rows)]),
            "x__s": pa.array(s, pa.float64()),
            "x__n": pa.array(rng.integers(0, 1000, rows), pa.int64()),
            "x__q": pa.array(
                [None if rng.random() < 0.1 else int(q) for q in rng.integers(0, 5, rows)],
                pa.int64(),
            ),
        }
    )


def _reference(table: pa.Table, keys: list[str]) -> dict[tuple[object, ...], list[float]]:
    """Per group of ``keys``: the exactly rounded sum of ``x__s`` (an infinity
    as floats add it), and the plain sums of the counts."""
    groups: dict[tuple[object, ...], list[list[float]]] = {}
    for row in table.to_pylist():
        if row["period"] is None:
            continue
        cells = groups.setdefault(tuple(row[k] for k in keys), [[], [], []])
        for j, c in enumerate(("x__s", "x__n", "x__q")):
            if row[c] is not None:
                cells[j].append(row[c])
    out = {}
    for key, (s, n, q) in groups.items():
        exact = math.fsum(s) if all(map(math.isfinite, s)) else sum(s)
        out[key] = [exact, float(sum(n)), float(sum(q))]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_rollup_sums_are_exactly_rounded_in_any_row_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = _table(rng, int(rng.integers(0, 300)))
    shuffled = table.take(pa.array(rng.permutation(table.num_rows)))
    parts = ["x__s", "x__n", "x__q"]
    for keys in (["period"], ["period", "dim__team"], ["period", "dim__team", "dim__rep"]):
        want = _reference(table, keys)
        pandas = _pandas_rollup(table, keys, parts)
        for source in (table, shuffled):
            got = rollup(from_arrow(source), keys, parts)
            assert len(got) == len(want) == len(pandas)
            for c in parts:  # the types pandas gives (counts with a gap are floats)
                assert got[c].dtype == pandas[c].to_numpy().dtype, c
            for i in range(len(got)):
                key = tuple(got[k][i] for k in keys)
                values = [float(got[c][i]) for c in parts]
                # The same bits in any order (NaN only from +inf and -inf together).
                assert np.asarray(values).tobytes() == np.asarray(want[key]).tobytes(), key
        # pandas' compensated sums agree to rounding.
        for row in pandas.itertuples(index=False):
            key = tuple(None if isinstance(v, float) and v != v else v for v in row[: len(keys)])
            for value, exact in zip(row[len(keys) :], want[key], strict=True):
                assert math.isclose(value, exact, rel_tol=1e-12, abs_tol=1e-6) or (
                    value == exact or (math.isnan(value) and math.isnan(exact))
                )


def test_arrow_columns_convert_as_arrow_does_without_pandas() -> None:
    probe = """
import sys
import duckdb
from kpitree.compute.columns import to_numpy
# (pa.array of a Python list would import pandas itself)
t = duckdb.sql("SELECT * FROM (VALUES (1, 'x'), (NULL, NULL), (3, 'z')) v(a, b)").to_arrow_table()
assert to_numpy(t.column("a")).tolist()[::2] == [1.0, 3.0]
assert to_numpy(t.column("b")).tolist() == ["x", None, "z"]
assert "pandas" not in sys.modules, "pandas was imported"
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    chunked = pa.chunked_array([pa.array([1, 2, 3]).slice(1), pa.array([4, None], pa.int64())])
    assert to_numpy(chunked).tolist()[:3] == [2.0, 3.0, 4.0]
    assert np.isnan(to_numpy(chunked)[3])
    whole = pa.chunked_array(
        [pa.array([5, 6, 7], pa.int32()).slice(1, 1), pa.array([8], pa.int32())]
    )
    assert to_numpy(whole).tolist() == [6, 8] and to_numpy(whole).dtype == np.int32
    floats = pa.chunked_array([pa.array([0.5, 1.5], pa.float32())])
    assert to_numpy(floats).dtype == np.float32


def _labels_by_tuples(table: Columns, keys: list[str], order: np.ndarray) -> list[int]:
    """Group numbers as a dict of row tuples gives them (NaN and None one value)."""
    seen: dict[tuple[object, ...], int] = {}
    out = []
    for i in order:
        row = tuple(
            None if v is None or (isinstance(v, float) and v != v) else v
            for v in (table[k][i] for k in keys)
        )
        out.append(seen.setdefault(row, len(seen)))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_group_labels_number_groups_by_first_appearance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(0, 200))
    pick = lambda values: np.asarray(  # noqa: E731
        [values[i] for i in rng.integers(0, len(values), rows)], dtype=object
    )
    table = Columns(
        {
            "period": rng.integers(0, 4, rows),
            "f": np.where(rng.random(rows) < 0.2, np.nan, rng.integers(0, 3, rows) * 0.5),
            "team": pick([None, "東日本営業部", "CS", "b", float("nan")]),
            # values of several types, equal as Python compares them (1 == 1.0 == True)
            "mixed": pick([None, 1, 1.0, True, "1", "x", 2]),
        },
        rows,
    )
    order = rng.permutation(rows).astype("int64")
    for keys in ([], ["period"], ["period", "team"], ["team", "f"], ["mixed", "period"]):
        labels, firsts = group_labels(table, keys, order)
        want = _labels_by_tuples(table, keys, order)
        assert labels.tolist() == want, keys
        assert firsts == [want.index(g) for g in range(len(set(want)))], keys
