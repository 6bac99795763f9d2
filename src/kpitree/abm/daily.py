"""Account scores kept per day: every account's score, engagement points, tier
and target membership on each day asked, computed by one query for all of
them and kept in the project's ``.kpitree/cache/abm/`` folder, so the dashboard and
the metrics of target accounts read a day once computed.

A kept day is only used while everything it was computed from is the same:
the ``abm:`` definition, the target list file, the warehouse's data (its
stamp and table versions), the time zone and this code. Anything else
(another import, a changed weight) makes a new store; the old one is removed.
A warehouse that is a database server (PostgreSQL, Spark, …) has no data
stamp: its days are kept in the same folder under the server's data version
(:func:`kpitree.engines.freshness.server_data_version`, as the pages are), so
they stand at most ``SERVER_DATA_TTL`` seconds, then are computed again; a
PostgreSQL warehouse that kpitree imports write adds its table versions, so
those writes make a new store at once; on ClickHouse and Spark the engine's own
sign of new data (:func:`kpitree.engines.freshness.engine_signal`) keys them
instead, with no time-to-live. Any
other database without a stamp (a DuckDB file kpitree did not write) keeps
its days in memory only, for the life of the store. Either way a kept day
equals its recomputation (:func:`daily_scores`) on the data of its time.

A kpitree write to tables the scores do not read (won deals on a project whose
signals read activities and lead stages) keeps the days already computed: a
new store of a warehouse file takes the rows of the one before when every
table the score query reads has the same write version, the definition, list,
time zone and code are the same, and kpitree wrote something in between (some
table's version moved; a file changed with no version moved was written by
another tool, and is computed again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kpitree.definition.spec_abm import AbmSpec
from kpitree.engines.freshness import engine_signal, server_data_version

if TYPE_CHECKING:
    import pyarrow as pa

    from kpitree.abm.scoring import Scores
    from kpitree.abm.targets import ListEntry
    from kpitree.engines import Engine

__all__ = ["DailyScores", "daily_scores", "daily_store", "scores_of_day"]

_LOCK = threading.Lock()
STORE_DIR = "abm"


def _engagement_columns(abm: AbmSpec) -> list[str]:
    return [f"c{i}" for i, spec in enumerate(abm.criteria.values()) if spec.signals is not None]


def daily_scores(
    engine: Engine,
    abm: AbmSpec,
    days: Iterable[dt.date],
    entries: Sequence[ListEntry] = (),
    matched: dict[int, set[str]] | None = None,
) -> pa.Table:
    """The score rows of :func:`kpitree.abm.scoring.scores_query` for ``days``
    with ``engagement``, ``tier``, ``by_tier`` (in a target tier),
    ``by_list`` (matched by a list row that is on the list that day) and
    ``target_account`` (by the targets' ``mode``). ``entries`` and
    ``matched`` are the target list's rows and the accounts each matches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Scoring is imported when a day is scored: a command whose metrics read no
    # account column never needs it.
    from kpitree.abm.scoring import scores_query

    chosen = sorted(set(days))
    t = engine.execute(scores_query(engine, abm, chosen))
    t = t.sort_by([("day", "ascending"), ("account_id", "ascending")])
    engagement: pa.Array = pa.repeat(pa.scalar(0.0, pa.float64()), t.num_rows)
    for col in _engagement_columns(abm):
        engagement = pc.add(engagement, t.column(col))
    tiers = _tiers(abm, t.column("score"))
    spec = abm.targets
    wanted_tiers = pa.array(sorted(spec.tiers) if spec is not None else [], pa.string())
    by_tier = pc.fill_null(pc.is_in(tiers, value_set=wanted_tiers), False)
    by_list = _listed(t, chosen, entries, matched or {})
    both = spec is not None and bool(spec.tiers) and spec.file is not None
    if both and spec is not None and spec.mode == "intersection":
        target = pc.and_(by_tier, by_list)
    else:
        target = pc.or_(by_tier, by_list)
    return (
        t.append_column("engagement", engagement)
        .append_column("tier", tiers)
        .append_column("by_tier", by_tier)
        .append_column("by_list", by_list)
        .append_column("target_account", target)
    )


def _tiers(abm: AbmSpec, scores: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`kpitree.abm.scoring.tier_of` of every score, column-wise: the
    highest threshold reached wins (of equal thresholds, the first defined)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pa.chunked_array([pa.nulls(len(scores), pa.string())])
    ranked = sorted(abm.tiers.items(), key=lambda kv: -kv[1])
    for name, threshold in reversed(ranked):  # the last assigned wins
        reached = pc.fill_null(pc.greater_equal(scores, float(threshold)), False)
        out = pc.if_else(reached, pa.scalar(name, pa.string()), out)
    return out


def _listed(
    t: pa.Table,
    days: Sequence[dt.date],
    entries: Sequence[ListEntry],
    matched: dict[int, set[str]],
) -> pa.ChunkedArray:
    """Whether each row's account is matched by a list row on the list on the row's day."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pa.chunked_array([pa.array([False] * t.num_rows, pa.bool_())])
    if not entries or t.num_rows == 0:
        return out
    ids = pc.cast(t.column("account_id"), pa.string())
    for day in days:
        accounts = {a for e in entries if e.on_list(day) for a in matched.get(e.row, ())}
        if accounts:
            on_day = pc.equal(t.column("day"), pa.scalar(day, pa.date32()))
            held = pc.is_in(ids, value_set=pa.array(sorted(accounts), pa.string()))
            out = pc.or_(out, pc.fill_null(pc.and_(on_day, held), False))
    return out


def scores_of_day(abm: AbmSpec, rows: pa.Table, day: dt.date) -> Scores:
    """The :class:`Scores` of ``day`` from its rows of :func:`daily_scores`."""
    import pyarrow.compute as pc

    from kpitree.abm.scoring import Scores, account_score

    found = rows.filter(pc.equal(rows.column("day"), day)).to_pylist()
    out = [account_score(abm, r) for r in found]
    out.sort(key=lambda a: (-a.score, a.account_id))
    return Scores(day, tuple(out))


def _code_digest() -> str:
    from kpitree.installed import installed_version

    digest = hashlib.sha256()
    for file in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    for package in ("ibis-framework", "duckdb"):
        digest.update(f"{package}={installed_version(package)}".encode())
    return digest.hexdigest()


def _written(engine: Engine) -> tuple[tuple[str, int], ...]:
    """The table versions of a PostgreSQL warehouse kpitree imports write (so
    an import, sync or undo there makes a new store at once); none elsewhere."""
    if engine.name != "postgres" or not engine.has_table("kpitree_table_versions"):
        return ()
    sql = "SELECT table_name, version FROM kpitree_table_versions ORDER BY table_name"
    return tuple((str(r["table_name"]), int(r["version"])) for r in engine.query(sql).to_pylist())


class DailyScores:
    """Scores per day of one project's accounts, computed once per day and
    kept (see the module's docstring). ``folder`` ``None``: kept in memory."""

    def __init__(
        self,
        engine: Engine,
        abm: AbmSpec,
        root: Path,
        folder: Path | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.abm = abm
        self.root = root
        self._entries: Sequence[ListEntry] | None = None
        self._matched: dict[int, set[str]] = {}
        self._rows: pa.Table | None = None
        self._lock = threading.Lock()
        state: object = engine.data_state()
        if state is None and engine.name != "duckdb":  # a server: its data version
            signal = engine_signal(engine)  # ClickHouse's parts, a Spark table's files
            if signal:
                state = ("engine", engine.where, signal)
            else:
                state = (server_data_version(clock), engine.where, _written(engine))
        self._folder = folder
        self._state = state
        self._path: list[Path | None] = []  # named once when first asked (see path)
        # The write versions of a warehouse file, for taking the rows of the
        # store before it (see the module's docstring).
        self._versions: dict[str, int] | None = None
        self._inputs_key: list[str | None] = []  # computed once when asked
        versioned = isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict)
        if folder is not None and versioned:
            self._versions = dict(cast("tuple[str, dict[str, int]]", state)[1])

    @property
    def path(self) -> Path | None:
        """The kept file of these inputs (``None``: kept in memory only). Named
        when first asked: a command whose metrics read no account never hashes
        the code, the definition and the list file its name is made of."""
        if not self._path:
            folder, state = self._folder, self._state
            named = (
                None
                if folder is None or state is None
                else folder / f"daily-{self._key(state)}.parquet"
            )
            self._path.append(named)
        return self._path[0]

    def _key(self, state: object) -> str:
        spec = self.abm.targets
        listed = b""
        if spec is not None and spec.file is not None:
            try:
                listed = (self.root / spec.file).read_bytes()
            except OSError:
                listed = b"?"  # unreadable: reading it says why (KT260)
        text = repr(
            (
                _code_digest(),
                self.abm.model_dump_json(),
                hashlib.sha256(listed).hexdigest(),
                self.engine.name,
                self.engine.timezone,
                state,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _inputs(self) -> str | None:
        """What the rows depend on but the other tables' versions: the key of
        :meth:`_key` with the versions of the tables the score query reads
        and of the links and company master only (``None``: one of them has no version,
        or the query holds other values read beforehand: never taken over)."""
        import ibis.expr.operations as ops

        from kpitree.abm.scoring import scores_query

        assert self._versions is not None
        if self._inputs_key:
            return self._inputs_key[0]
        from kpitree.data.company_master import MASTER_TABLE
        from kpitree.data.links import LINKS_TABLE

        query = scores_query(self.engine, self.abm, [dt.date(2000, 1, 1)])
        read = sorted({t.name for t in query.op().find(ops.DatabaseTable)})
        # Read only when they exist (the links), or in Python (the company
        # master: its matches come in as a table of values): always keyed.
        given = [set(t.schema.names) for t in query.op().find(ops.InMemoryTable)]
        days = [names <= {"__d", "__f"} or "__m_acc" in names for names in given]
        key = None
        if all(days) and all(name in self._versions for name in read):
            versions = [(name, self._versions[name]) for name in read]
            versions += [(t, self._versions.get(t, 0)) for t in (LINKS_TABLE, MASTER_TABLE)]
            key = self._key(("inputs", self.engine.where, versions))
        self._inputs_key.append(key)
        return key

    def _taken_over(self) -> pa.Table | None:
        """The rows of the store before this one, when they hold for this one
        (see the module's docstring), else ``None``."""
        from kpitree.sealed import unseal

        if self.path is None or self._versions is None:
            return None
        written = self._key(("written", sorted(self._versions.items())))
        found = []
        for side in self.path.parent.glob("daily-*.inputs"):
            if side.stem == self.path.stem:
                continue
            try:
                body = unseal(side.read_bytes())
            except OSError:
                continue
            if body is not None:
                found.append((side, bytes(body).decode("ascii", "replace").split()))
        if not found:
            return None
        inputs = self._inputs()
        for side, words in found:
            if len(words) == 2 and words[0] == inputs and words[1] != written:
                rows = _read_rows(side.with_suffix(".parquet"))
                if rows is not None:
                    return rows
        return None

    def _save_inputs(self) -> None:
        """Beside the rows: the key of :meth:`_inputs` and the versions they
        were computed on (sealed), for the store after this one."""
        from kpitree.sealed import seal

        if self.path is None or self._versions is None:
            return
        inputs = self._inputs()
        if inputs is None:
            return
        written = self._key(("written", sorted(self._versions.items())))
        side = self.path.with_suffix(".inputs")
        temp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
        temp.write_bytes(seal(f"{inputs} {written}".encode("ascii")))
        temp.replace(side)

    def list_rows(self) -> tuple[Sequence[ListEntry], dict[int, set[str]]]:
        """The target list's rows and the accounts each matches."""
        from kpitree.abm.targets import account_keys, list_matches, read_target_list

        if self._entries is None:
            spec = self.abm.targets
            entries: Sequence[ListEntry] = ()
            if spec is not None and spec.file is not None:
                entries = read_target_list(self.root / spec.file)
                index = account_keys(self.engine)
                self._matched = {e.row: list_matches(e, index) for e in entries}
            self._entries = entries
        return self._entries, self._matched

    def rows(self, days: Iterable[dt.date]) -> pa.Table:
        """The rows of :func:`daily_scores` of ``days`` (computed when not kept)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        wanted = sorted(set(days))
        with self._lock:
            kept = self._load()
            if kept is None and self.path is not None and not self.path.is_file():
                kept = self._taken_over()
                if kept is not None:
                    self._save(kept)
            known = set(pc.unique(kept.column("day")).to_pylist()) if kept is not None else set()
            missing = [d for d in wanted if d not in known]
            if missing:
                entries, matched = self.list_rows()
                fresh = daily_scores(self.engine, self.abm, missing, entries, matched)
                kept = fresh if kept is None else pa.concat_tables([kept, fresh.cast(kept.schema)])
                self._save(kept)
            assert kept is not None
            if not wanted:
                return kept.slice(0, 0)
            days_arr = pa.array(wanted, pa.date32())
            return kept.filter(pc.is_in(kept.column("day"), value_set=days_arr))

    def scores(self, day: dt.date) -> Scores:
        """Every account's score on ``day`` (as :func:`score_accounts` gives it)."""
        return scores_of_day(self.abm, self.rows([day]), day)

    def _load(self) -> pa.Table | None:
        if self._rows is not None or self.path is None or not self.path.is_file():
            return self._rows
        self._rows = _read_rows(self.path)
        return self._rows

    def _save(self, rows: pa.Table) -> None:
        self._rows = rows
        if self.path is None:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        from kpitree.sealed import seal

        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink)
        sealed = seal(sink.getvalue().to_pybytes())
        with _LOCK:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for old in self.path.parent.glob("daily-*"):
                if old.stem != self.path.stem:
                    old.unlink(missing_ok=True)
            temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temp.write_bytes(sealed)
            temp.replace(self.path)
            self._save_inputs()


def _read_rows(path: Path) -> pa.Table | None:
    """The rows kept in ``path``, or ``None`` (missing, half-written by a
    process that died, or not sealed by this user: :mod:`kpitree.sealed`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kpitree.sealed import unseal

    try:
        body = unseal(path.read_bytes())
        return None if body is None else pq.read_table(pa.BufferReader(body))
    except (OSError, ValueError):
        return None


def daily_store(engine: Engine, abm: AbmSpec, root: Path) -> DailyScores:
    """The project's kept daily scores the engine was given, else a store in
    memory."""
    store = getattr(engine, "abm_scores", None)
    if isinstance(store, DailyScores) and store.abm == abm:
        return store
    return DailyScores(engine, abm, root, None)
