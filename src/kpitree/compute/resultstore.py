"""Query results kept on disk between commands, for a kpitree warehouse file.

A second ``kpitree status`` (or ``alerts``, ``report`` …) on data that has not
changed asks the very same SQL of the very same file: its results are read back
from Arrow files instead of computed again. A result is only ever read back for

- the same SQL text (which carries the metrics' definitions, the periods, the
  segment level, the filters, the as-of day and how owners match reps),
- the same warehouse file, in the same state: the write versions of every table
  the query reads (``kpitree_table_versions``, bumped by every import, bulk load
  and undo) *and* the file's stamp (size and modification time of the file and
  its write-ahead log, and which file it is: device and inode), so any write at
  all, by kpitree or by another tool, or another file put in its place, leaves
  the results of the file before it unread,
- the same session time zone, and the same code and library versions that make
  and run the SQL (the query cache's code version, with kpitree's own version).

Nothing else is kept: the roll-ups, targets and status are computed on every
run from these results. Results live in ``.kpitree/cache/results/`` beside the
compiled SQL, written atomically and bounded in number and size (the least
recently used go first); a missing, damaged or unreadable file is a miss, and
so is one not sealed with the user's own key (:mod:`kpitree.sealed`): a result
someone else put in the project is never shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kpitree.sealed import seal, unseal

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ResultStore"]

_MAX_FILES = 2000
_MAX_BYTES = 256 * 1024 * 1024  # the folder, at most
_MAX_RESULT_BYTES = 32 * 1024 * 1024  # one result, at most
_SUFFIX = ".arrow"


class ResultStore:
    """Arrow files of query results in ``folder``, named by a digest of all that
    decides the result (see the module)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hits = 0
        self.writes = 0

    @staticmethod
    def name(code: str, where: str, timezone: str, stamp: str, sql: str, versions: object) -> str:
        """The file name of a result: ``versions`` are the (table, version) pairs
        of the tables the SQL reads; ``code`` the code version."""
        from kpitree import __version__

        text = repr((__version__, code, where, timezone, stamp, versions, sql))
        return hashlib.sha256(text.encode()).hexdigest() + _SUFFIX

    def get(self, name: str) -> pa.Table | None:
        """The result stored under ``name``, or ``None``."""
        import pyarrow as pa
        import pyarrow.ipc

        path = self.folder / name
        try:
            body = unseal(path.read_bytes())
            if body is None:  # not sealed by this user: compute it again
                return None
            table: pa.Table = pyarrow.ipc.open_file(pa.py_buffer(body)).read_all()
        except (OSError, pa.ArrowException):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        self.hits += 1
        return table

    def put(self, name: str, table: pa.Table) -> None:
        """Store ``table`` under ``name`` (atomically; a failure only loses it)."""
        import pyarrow as pa
        import pyarrow.ipc

        if table.nbytes > _MAX_RESULT_BYTES:
            return
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            sink = pa.BufferOutputStream()
            with pyarrow.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            fd, tmp = tempfile.mkstemp(prefix=".result-", dir=self.folder)
            with os.fdopen(fd, "wb") as out:
                out.write(seal(sink.getvalue().to_pybytes()))
            Path(tmp).replace(self.folder / name)
            tmp = None
            self.writes += 1
        except (OSError, pa.ArrowException):
            return
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self._prune()

    def _prune(self) -> None:
        """Drop the least recently used files beyond the bounds."""
        try:
            files = []
            for entry in os.scandir(self.folder):
                if entry.name.endswith(_SUFFIX):
                    st = entry.stat()
                    files.append((st.st_mtime_ns, st.st_size, entry.path))
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        if len(files) <= _MAX_FILES and total <= _MAX_BYTES:
            return
        files.sort()
        while files and (len(files) > _MAX_FILES or total > _MAX_BYTES):
            _, size, path = files.pop(0)
            with contextlib.suppress(OSError):
                Path(path).unlink()
            total -= size
