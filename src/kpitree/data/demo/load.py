"""Loading the demo company into a project's warehouse (what ``kpitree demo`` does).

The demo is one bulk load in the import log, labelled ``demo``. Loading it again
is idempotent: the same demo (size, seed, fiscal year, time zone, kpitree
version) already applied is left as it is; a different one replaces it (the
earlier demo import is undone first), so demo rows are never duplicated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from typing import TYPE_CHECKING, Literal

from kpitree.data.demo.generator import DemoSize, generate, resolve_size

if TYPE_CHECKING:
    from kpitree.data.importing import ImportWriter

__all__ = ["DEMO_LABEL", "DemoLoad", "load_demo"]

DEMO_LABEL = "demo"
"""The file name of demo loads in the import log."""

Step = Literal["generating", "replacing", "loading"]


@dataclass(frozen=True)
class DemoLoad:
    """What :func:`load_demo` did."""

    status: Literal["loaded", "replaced", "unchanged"]
    import_id: int
    """The import holding the demo rows (the earlier one when ``unchanged``)."""
    size: str
    seed: int
    fiscal_year: int
    rows: dict[str, int]
    """Rows per canonical table in the warehouse afterwards."""
    undone: tuple[int, ...] = ()
    """Earlier demo imports that were undone to make room (``replaced``)."""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _version() -> str:
    try:
        return metadata.version("kpitree")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "dev"


def _fingerprint(
    size: DemoSize, seed: int, fiscal_year: int, start: int, tz: str, as_of: date | None = None
) -> str:
    spec = {
        "generator": "kpitree.data.demo",
        "kpitree": _version(),
        "size": [size.name, size.leads, size.cold_calls_per_lead],
        "seed": seed,
        "fiscal_year": fiscal_year,
        "fiscal_year_start": start,
        "tz": tz,
        **({} if as_of is None else {"as_of": as_of.isoformat()}),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def load_demo(
    warehouse: ImportWriter,
    size: str | DemoSize = "small",
    *,
    seed: int = 42,
    fiscal_year: int,
    fiscal_year_start: int = 4,
    tz: str = "Asia/Tokyo",
    as_of: date | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> DemoLoad:
    """Generate the demo company (see :func:`kpitree.data.demo.generate`) and load
    it into ``warehouse`` as one bulk load, unless the same demo is already there.

    ``as_of``: the company as seen at the end of that day (nothing after it);
    ``None``: the whole fiscal year. ``on_step`` is told what is happening
    (``generating``, ``replacing``, ``loading``), e.g. to show a status line.
    Undoing an earlier, different demo is refused like any undo when a later
    import changed its rows.

    >>> load_demo(Warehouse(path), "tiny", fiscal_year=2026).status  # doctest: +SKIP
    'loaded'
    """
    chosen = resolve_size(size)
    fingerprint = _fingerprint(chosen, seed, fiscal_year, fiscal_year_start, tz, as_of)
    earlier = [
        r
        for r in warehouse.imports()
        if r.kind == "bulk_load" and r.source_file == DEMO_LABEL and r.status == "applied"
    ]
    for record in earlier:
        if record.file_hash == fingerprint:
            return DemoLoad(
                "unchanged",
                record.import_id,
                chosen.name,
                seed,
                fiscal_year,
                warehouse.row_counts(),
            )
    if on_step:
        on_step("generating")
    company = generate(
        chosen,
        seed=seed,
        fiscal_year=fiscal_year,
        fiscal_year_start=fiscal_year_start,
        tz=tz,
        as_of=as_of,
    )
    undone = []
    if earlier:
        if on_step:
            on_step("replacing")
        for record in reversed(earlier):  # newest first, as undo stacks
            warehouse.undo(record.import_id)
            undone.append(record.import_id)
    if on_step:
        on_step("loading")
    seen = "" if as_of is None else f", as of {as_of.isoformat()}"
    source = f"kpitree demo --size {chosen.name} (seed {seed}, FY{fiscal_year}{seen})"
    result = warehouse.bulk_load(
        company.tables, label=DEMO_LABEL, source=source, fingerprint=fingerprint
    )
    return DemoLoad(
        "replaced" if undone else "loaded",
        result.import_id,
        chosen.name,
        seed,
        fiscal_year,
        warehouse.row_counts(),
        tuple(undone),
    )
