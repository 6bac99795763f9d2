"""Which ``kpitree`` command runs on which engine (``data.warehouse``).

Every command is one of four kinds, by what it needs of the warehouse:

- ``reads``: computes on the canonical tables through the engine, so it runs on
  every tested engine and gives DuckDB's result;
- ``import log``: writes imports (or reads their log or the sync registry, or
  undoes one), which needs one transaction across tables and a record of every change:
  the embedded DuckDB warehouse and PostgreSQL; ``KT570`` elsewhere;
- ``company master``: ``kpitree import-master`` writes ``kpitree_company_master``
  beside the canonical tables: DuckDB and PostgreSQL; ``KT285`` elsewhere;
- ``project``: reads or writes only the project's files and its app database
  (users, alerts' history, actions, revisions): the engine does not matter.

``tests/engines/test_commands_on_engines.py`` runs every command on a PostgreSQL
and a ClickHouse (chDB) project and on DuckDB and compares; the refusals it checks
on Spark too. ``scripts/gen_engine_matrix.py`` writes the table of docs/engine.md
from :func:`commands_markdown`.
"""

from __future__ import annotations

from typing import Final

ENGINES: Final = ("duckdb", "postgres", "pyspark", "clickhouse")
ENGINE_TITLES: Final = ("DuckDB", "PostgreSQL", "Spark", "ClickHouse")

READS: Final = "reads"
IMPORT_LOG: Final = "import log"
MASTER: Final = "company master"
PROJECT: Final = "project"

RUNS: Final = "runs"
ON_ENGINES: Final[dict[str, tuple[str, str, str, str]]] = {
    READS: (RUNS, RUNS, RUNS, RUNS),
    IMPORT_LOG: (RUNS, RUNS, "KT570", "KT570"),
    MASTER: (RUNS, RUNS, "KT285", "KT285"),
    PROJECT: (RUNS, RUNS, RUNS, RUNS),
}

COMMANDS: Final[dict[str, str]] = {
    "init": PROJECT,
    "schema": PROJECT,
    "check": PROJECT,
    "plan": PROJECT,
    "tree": PROJECT,
    "book": PROJECT,
    "metrics": PROJECT,
    "revise": PROJECT,
    "revisions": PROJECT,
    "demo": IMPORT_LOG,
    "import": IMPORT_LOG,
    "imports": IMPORT_LOG,
    "imports undo": IMPORT_LOG,
    "sync": IMPORT_LOG,
    "sources list": IMPORT_LOG,
    "sources test": PROJECT,
    "sources verify": IMPORT_LOG,
    "sources mapping": PROJECT,
    "import-master": MASTER,
    "status": READS,
    "explain": READS,
    "scorecard": READS,
    "validity": READS,
    "query": READS,
    "accounts": READS,
    "sla": READS,
    "report": READS,
    "reports send": READS,
    "reports list": PROJECT,
    "alerts run": READS,
    "alerts list": PROJECT,
    "alerts history": PROJECT,
    "actions add": READS,
    "actions list": READS,
    "actions done": READS,
    "actions import": READS,
    "data check": READS,
    "data links": READS,
    "serve": READS,
    "mappings list": PROJECT,
    "mappings show": PROJECT,
    "mappings detect": PROJECT,
    "mappings new": PROJECT,
    "users add": PROJECT,
    "users list": PROJECT,
    "users remove": PROJECT,
    "users password": PROJECT,
}


def on_engine(command: str, engine: str) -> str:
    """``runs``, or the KT code ``command`` is refused with on ``engine``."""
    return ON_ENGINES[COMMANDS[command]][ENGINES.index(engine)]


def commands_markdown() -> str:
    """The table of docs/engine.md: one row per command, one column per engine."""
    head = ["command", "needs", *ENGINE_TITLES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for command, kind in COMMANDS.items():
        cells = ["yes" if c == RUNS else f"no: {c}" for c in ON_ENGINES[kind]]
        lines.append(f"| `kpitree {command}` | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
