"""Every ``kpitree`` command on a project whose warehouse is PostgreSQL (and on
ClickHouse through chDB): each gives the same result as on the embedded DuckDB
warehouse, or is refused with the KT code ``kpitree.cli.command_engines`` says,
as docs/engine.md's table of commands shows. Refusals are checked on Spark too
(they come before a session is started).

Two copies of the demo project (one per engine) run the same steps; outputs are
compared once the warehouse's location, the project folder and the wall-clock
moments are taken out.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shlex
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from abm.test_master import MASTER
from fakes.hubspot import Portal, serve
from fakes.hubspot_company import Company
from kpitree.cli import app, main
from kpitree.cli.command_engines import COMMANDS, RUNS, on_engine
from kpitree.errors import KpitreeError

pytestmark = [pytest.mark.engine, pytest.mark.slow]

TOKEN_ENV = "KPITREE_TEST_HUBSPOT_TOKEN"
MAPPING = """\
mapping: 1
name: test leads
tables:
  leads:
    lead_id: {column: ID}
    created_at: {column: Created}
    channel: {column: Source}
"""
LEADS = "ID,Created,Source\nX1,2026/01/07,web\nX2,2026年1月8日,event\n"
ACTIONS = (
    "No.,ノード,セグメント,担当,施策,期待効果,期限,進捗・結果\n"
    ",calls,,IS 鈴木,架電数増,+20%,2027-02,\n"
)
# Moments a run is made at (not what it computed), and what names the project's own
# state: the definition's digest includes data.warehouse.
VOLATILE = {
    "now", "at", "since", "started_at", "finished_at", "undone_at", "recorded_at",
    "measured_at", "elapsed_hours", "remaining_hours", "digest", "created_at",
    "updated_at", "last_success", "last_attempt", "generated_at", "cursor",
}  # fmt: skip

MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
PASSWORD = "a-long-password-1\n"


@dataclass(frozen=True)
class Case:
    command: str
    steps: tuple[str, ...]  # run in order; the last one's output is compared
    json: bool = False
    stdin: str = ""


# {P}: the project folder; {F}: a folder of input files; {O}: a folder for outputs.
CASES = [
    Case("init", ("init {O}/new",)),
    Case("schema", ("schema",)),
    Case("check", ("check {P}",)),
    Case("plan", ("plan {P} --months",)),
    Case("tree", ("tree {P}",)),
    Case("book", ("book {P} --json",), json=True),
    Case("metrics", ("metrics {P}",)),
    Case("revise", ("revise {P} -m first --author a", "revise {P} -m again --author a")),
    Case("revisions", ("revisions {P} --json",), json=True),
    Case("demo", ("demo {P} --size tiny --no-serve",)),
    Case("import", ("import {F}/leads.csv -m {F}/leads.yaml -p {P} --json",), json=True),
    Case("imports", ("imports -p {P} --json",), json=True),
    Case(
        "imports undo",
        (
            "import {F}/more.csv -m {F}/leads.yaml -p {P}",
            "imports -p {P} --json",
            "imports undo {LAST} -p {P} --json",
        ),
        json=True,
    ),
    Case("sync", ("sync {P} --json",), json=True),
    Case("sources list", ("sources list {P} --json",), json=True),
    Case("sources test", ("sources test {P} --json",), json=True),
    Case("sources verify", ("sources verify {P} --period 2026-11 --json",), json=True),
    Case("sources mapping", ("sources mapping hubspot contacts -p {P}",)),
    Case("import-master", ("import-master {F}/master.csv -p {P} --json",), json=True),
    Case("status", ("status {P} --by team --json",), json=True),
    Case("explain", ("explain {P} --period last-month --json",), json=True),
    Case("scorecard", ("scorecard {P} --json",), json=True),
    Case("validity", ("validity {P} --json",), json=True),
    Case("query", ("query 'SELECT channel, count(*) AS n FROM leads GROUP BY 1 ORDER BY 1' -p {P}",)),  # noqa: E501
    Case("accounts", ("accounts {P} --json",), json=True),
    Case("sla", ("sla {P} --by team --json",), json=True),
    Case("report", ("report {P} -f md -o {O}/r.md --as-of 2026-11-30 --json",), json=True),
    Case("reports send", ("reports send {P} --json",), json=True),
    Case("reports list", ("reports list {P} --json",), json=True),
    Case("alerts run", ("alerts run {P} --json",), json=True),
    Case("alerts list", ("alerts list {P} --json",), json=True),
    Case("alerts history", ("alerts history {P} --json",), json=True),
    Case(
        "actions add",
        ("actions add leads --owner web --effect +10% --due 2027-01 -m LP -p {P} --json",),
        json=True,
    ),
    Case("actions import", ("actions import {F}/actions.csv -p {P} --json",), json=True),
    Case("actions list", ("actions list -p {P} --all --json",), json=True),
    Case("actions done", ("actions done 1 --note ok -p {P} --json",), json=True),
    Case("data check", ("data check {P} --json",), json=True),
    Case("data links", ("data links {P} --json",), json=True),
    Case("mappings list", ("mappings list --json",), json=True),
    Case("mappings show", ("mappings show hubspot_contacts",)),
    Case("mappings detect", ("mappings detect {F}/leads.csv --json",), json=True),
    Case("mappings new", ("mappings new {F}/leads.csv -o {O}/new-mapping.yaml",)),
    Case("users add", ("users add bob -r admin -p {P} --password-stdin",), stdin=PASSWORD),
    Case("users list", ("users list -p {P} --json",), json=True),
    Case("users password", ("users password bob -p {P} --password-stdin",), stdin=PASSWORD * 2),
    Case("users remove", ("users remove bob -p {P}",)),
    Case("serve", ()),  # a server: tests/engines/test_pages_on_engines.py compares its pages
]  # fmt: skip


def _acting(command: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Commands that do something: leaves, and groups that act without a subcommand."""
    found = []
    for name, sub in getattr(command, "commands", {}).items():
        if getattr(sub, "hidden", False):
            continue
        if not hasattr(sub, "commands") or getattr(sub, "invoke_without_command", False):
            found.append(" ".join((*path, name)))
        found += _acting(sub, (*path, name))
    return found


def test_every_command_has_a_row_and_a_case() -> None:
    commands = _acting(typer.main.get_command(app))
    assert sorted(COMMANDS) == sorted(commands)
    assert [c.command for c in CASES] == [c.command for c in CASES if c.command in COMMANDS]
    assert sorted(c.command for c in CASES) == sorted(commands)


@dataclass
class Run:
    code: int | str
    out: str
    err: str


def _run(args: list[str], stdin: str = "") -> Run:
    out, err = io.StringIO(), io.StringIO()
    before = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--lang", "en", "--debug", *args])
                code: int | str = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
            except KpitreeError as exc:  # --debug: the error itself, with its KT code
                code = ",".join(sorted({d.code for d in getattr(exc, "diagnostics", [])}))
                code = code or str(getattr(exc, "code", "")) or type(exc).__name__
                err.write(str(exc))
    finally:
        sys.stdin = before
    return Run(code, out.getvalue(), err.getvalue())


@dataclass
class Project:
    folder: Path
    warehouse: str
    files: Path
    outputs: Path


def _steps(case: Case, project: Project) -> Run:
    last: Run | None = None
    for step in case.steps:
        text = step.format(P=project.folder, F=project.files, O=project.outputs, LAST="{LAST}")
        args = shlex.split(text)
        if "{LAST}" in args:
            assert last is not None
            ids = [str(r["import_id"]) for r in json.loads(last.out)["imports"]]
            args = [ids[-1] if a == "{LAST}" else a for a in args]
        last = _run(args, case.stdin)
        if last.code != 0:
            break
    assert last is not None
    return last


def _clean(value: Any, project: Project) -> Any:
    if isinstance(value, dict):
        return {
            k: _clean(v, project)
            for k, v in value.items()
            if k not in VOLATILE and not k.endswith("_at")
        }
    if isinstance(value, list):
        return [_clean(v, project) for v in value]
    if isinstance(value, str):  # a moment of the run (not a day the data holds)
        return "{MOMENT}" if MOMENT.match(value) else _text(value, project)
    return value


def _text(text: str, project: Project) -> str:
    for name, value in (
        ("{WAREHOUSE}", project.warehouse),
        ("{WAREHOUSE}", str(project.folder / ".kpitree" / "warehouse.duckdb")),
        ("{F}", str(project.files)),
        ("{O}", str(project.outputs)),
        ("{P}", str(project.folder)),
    ):
        text = text.replace(value, name)
    return text


def _differences(expected: Any, got: Any, where: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(got, dict):
        out = [f"{where}.{k}: missing" for k in expected.keys() ^ got.keys()]
        for key in expected.keys() & got.keys():
            out += _differences(expected[key], got[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where}: {len(expected)} items, got {len(got)}"]
        pairs = enumerate(zip(expected, got, strict=True))
        return [d for i, (a, b) in pairs for d in _differences(a, b, f"{where}[{i}]")]
    if isinstance(expected, float) and isinstance(got, float):
        # Sums of fractional values: each engine adds in its own order (docs/engine.md).
        same = math.isclose(expected, got, rel_tol=1e-12, abs_tol=1e-12)
        return [] if same else [f"{where}: {expected!r} != {got!r}"]
    return [] if expected == got else [f"{where}: {expected!r} != {got!r}"]


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    """A loopback HubSpot portal the projects' source syncs from."""
    hub = Portal()
    Company(hub, contacts=30)
    with pytest.MonkeyPatch.context() as patch, serve(hub) as url:
        patch.setenv(TOKEN_ENV, hub.token)
        patch.setenv("KPITREE_SYNC_BACKOFF", "0.01")
        yield url


def _files(root: Path, name: str) -> tuple[Path, Path]:
    files, outputs = root / f"{name}-files", root / f"{name}-out"
    files.mkdir()
    outputs.mkdir()
    (files / "leads.yaml").write_text(MAPPING, "utf-8")
    (files / "leads.csv").write_text(LEADS, "utf-8")
    (files / "more.csv").write_text(LEADS.replace("X", "Y"), "utf-8")
    (files / "master.csv").write_text(MASTER, "utf-8")
    (files / "actions.csv").write_text(ACTIONS, "utf-8")
    return files, outputs


def _make(root: Path, name: str, warehouse: str, demo: Path) -> Project:
    """A copy of the demo project whose warehouse is ``warehouse`` (none yet)."""
    folder = root / name
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns(".kpitree", "app.sqlite*"))
    with (folder / "kpitree.yaml").open("a", encoding="utf-8") as out:
        out.write(f"\ndata:\n  warehouse: {warehouse}\n")
    return Project(folder, warehouse, *_files(root, name))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, portal: str) -> Path:
    """The demo project (its DuckDB warehouse holding the demo company), with a
    HubSpot source on the loopback portal."""
    folder = tmp_path_factory.mktemp("commands") / "demo"
    assert _run(["demo", str(folder), "--size", "tiny", "--no-serve"]).code == 0
    with (folder / "kpitree.yaml").open("a", encoding="utf-8") as out:
        out.write(
            f"\nsources:\n  hubspot:\n    type: hubspot\n    token_env: {TOKEN_ENV}\n"
            f"    base_url: {portal}\n"
        )
    return folder


def _on_duckdb(demo: Path, name: str) -> Project:
    """A copy of the demo project on its own DuckDB warehouse: each engine's project
    has its DuckDB twin, which goes through the same steps."""
    root = demo.parent
    folder = root / name
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("app.sqlite*", "cache"))
    warehouse = str(folder / ".kpitree" / "warehouse.duckdb")
    return Project(folder, warehouse, *_files(root, name))


@pytest.fixture(scope="module")
def on_postgres(demo: Path, postgres_url: str) -> tuple[Project, Project]:
    import psycopg

    server, _ = postgres_url.rsplit("/", 1)
    name = f"cmd_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    project = _make(demo.parent, "pg", f"{server}/{name}", demo)
    # The demo company, loaded as `kpitree demo` loads it: one import in the log.
    assert _run(["demo", str(project.folder), "--size", "tiny", "--no-serve"]).code == 0
    return _on_duckdb(demo, "duck-pg"), project


@pytest.fixture(scope="module")
def on_clickhouse(demo: Path) -> tuple[Project, Project]:
    pytest.importorskip("chdb", reason="the clickhouse extra is not installed")
    from kpitree.engines import copy_warehouse

    url = f"chdb://{demo.parent / 'chdb'}"
    project = _make(demo.parent, "ch", url, demo)
    copy_warehouse(demo / ".kpitree" / "warehouse.duckdb", url)
    return _on_duckdb(demo, "duck-ch"), project


def _compare(case: Case, expected: Project, project: Project, engine: str) -> None:
    want = on_engine(case.command, engine)
    got = _steps(case, project)
    if want != RUNS:
        assert got.code == want, (case.command, got)
        assert got.err.strip(), "a refusal says why and what to do"
        return
    ran = _steps(case, expected)
    assert (got.code, _text(got.err, project)) == (ran.code, _text(ran.err, expected)), case
    if case.json:
        a, b = json.loads(ran.out), json.loads(got.out)
        differences = _differences(_clean(a, expected), _clean(b, project))
        assert differences == [], "\n".join(differences[:30])
    else:
        assert _text(got.out, project) == _text(ran.out, expected)


@pytest.mark.postgres
@pytest.mark.parametrize("case", [c for c in CASES if c.steps], ids=lambda c: c.command)
def test_every_command_on_postgres(case: Case, on_postgres: tuple[Project, Project]) -> None:
    _compare(case, *on_postgres, "postgres")


@pytest.mark.parametrize("case", [c for c in CASES if c.steps], ids=lambda c: c.command)
def test_every_command_on_clickhouse(case: Case, on_clickhouse: tuple[Project, Project]) -> None:
    _compare(case, *on_clickhouse, "clickhouse")


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.steps and on_engine(c.command, "pyspark") != RUNS],
    ids=lambda c: c.command,
)  # fmt: skip
def test_commands_refused_on_spark_say_so(case: Case, demo: Path, tmp_path: Path) -> None:
    project = _make(tmp_path, "spark", "pyspark://local[2]", demo)
    got = _steps(Case(case.command, case.steps[:1]), project)
    assert got.code == on_engine(case.command, "pyspark"), got
    assert "pyspark://local[2]" in got.err
