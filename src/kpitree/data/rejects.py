"""Rejected source rows: as located diagnostics, and as files the user can fix.

With ``--skip-invalid`` the rejected rows of ``leads.csv`` are written to
``<project>/.kpitree/rejects/import-<id>/leads.rejected.csv`` (the original
columns and text, UTF-8 with BOM so Excel opens it, ready to be corrected and
imported again with the same mapping) next to ``leads.rejected.txt``, a report of
every bad cell. They go under the warehouse folder, not next to the source file:
exports often live in shared or read-only folders that kpitree must not write to.
A text that a spreadsheet would take for a formula (``=…``, ``@…``) gets a
leading ``'`` in the rejected file (:mod:`kpitree.escaping`); remove it from a
value that really starts so before importing the file again.
"""

from __future__ import annotations

from pathlib import Path

from kpitree.data.batch import MappedBatch
from kpitree.errors import DataError, Diagnostic, Severity, Span
from kpitree.escaping import SpreadsheetCsvWriter
from kpitree.i18n import t

__all__ = ["MAX_REJECT_DIAGNOSTICS", "reject_error", "rejected_row_count", "write_rejects"]

# A file with 100,000 bad rows should not print 100,000 lines; the first ones show
# the pattern and the summary says how many there are.
MAX_REJECT_DIAGNOSTICS = 200
_ROW_KEY = "__row__"


def rejected_row_count(batch: MappedBatch) -> int:
    """Distinct source rows with at least one reject."""
    return len({(r.file, r.row) for r in batch.rejects})


def _column_numbers(batch: MappedBatch) -> dict[int, dict[str, int]]:
    """Row number -> (source column -> 1-based position), from the rejected rows."""
    numbers: dict[int, dict[str, int]] = {}
    for source_row in batch.rejected_rows:
        row = int(source_row.get(_ROW_KEY, 0))
        headers = [h for h in source_row if h != _ROW_KEY]
        numbers[row] = {h: i for i, h in enumerate(headers, start=1)}
    return numbers


def reject_error(batches: list[MappedBatch]) -> DataError:
    """One located diagnostic per rejected cell (capped), then a summary saying
    nothing was imported and how to import the valid rows anyway."""
    diagnostics: list[Diagnostic] = []
    total_cells = 0
    total_rows = 0
    for batch in batches:
        total_rows += rejected_row_count(batch)
        columns = _column_numbers(batch)
        for reject in batch.rejects:
            total_cells += 1
            if len(diagnostics) >= MAX_REJECT_DIAGNOSTICS:
                continue
            position = columns.get(reject.row, {}).get(reject.column or "", 1)
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "KT420",
                    "warehouse.reject",
                    {
                        "column": reject.column or "-",
                        "value": "" if reject.value is None else reject.value,
                        "reason": reject.reason,
                    },
                    Span(reject.file, reject.row, position),
                )
            )
    diagnostics.append(
        Diagnostic(
            Severity.ERROR,
            "KT421",
            "warehouse.rejected_nothing_written",
            {
                "rows": total_rows,
                "cells": total_cells,
                "shown": min(total_cells, MAX_REJECT_DIAGNOSTICS),
            },
        )
    )
    return DataError(diagnostics)


def write_rejects(batch: MappedBatch, folder: Path) -> tuple[Path, Path]:
    """Write ``<stem>.rejected.csv`` and ``<stem>.rejected.txt`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(batch.source_file).stem
    csv_path = folder / f"{stem}.rejected.csv"
    report_path = folder / f"{stem}.rejected.txt"

    headers: list[str] = []
    seen: set[str] = set()
    for source_row in batch.rejected_rows:
        for h in source_row:
            if h != _ROW_KEY and h not in seen:
                seen.add(h)
                headers.append(h)
    csv_line: dict[int, int] = {}
    with csv_path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = SpreadsheetCsvWriter(out)
        writer.writerow(headers)
        writer.writerows(
            [source_row.get(h, "") for h in headers] for source_row in batch.rejected_rows
        )
    for line, source_row in enumerate(batch.rejected_rows, start=2):
        csv_line.setdefault(int(source_row.get(_ROW_KEY, 0)), line)

    lines = [
        t(
            "warehouse.report_title",
            file=batch.source_file,
            mapping=batch.mapping_name,
            rows=rejected_row_count(batch),
            cells=len(batch.rejects),
            read=batch.rows_read,
        ),
        t("warehouse.report_csv", path=csv_path.name),
        "",
    ]
    for reject in batch.rejects:
        lines.append(
            t(
                "warehouse.report_line",
                row=reject.row,
                csv_row=csv_line.get(reject.row, "-"),
                column=reject.column or "-",
                value="" if reject.value is None else reject.value,
                reason=reject.reason,
            )
        )
    report_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, report_path
