"""Fixtures shared by every test folder.

``postgres_url``: a throwaway PostgreSQL server for the whole session (tests that use
it are marked ``postgres``); ``postgres_database``: a new, empty database on it for
one test, so that what a test writes (a kpitree warehouse, say) meets no other test.
The server runs Debian's binaries from ``/usr/lib/postgresql/<version>/bin``
(package ``postgresql``, installed by ``bash scripts/test``) on a fresh cluster in a
temporary folder, listening on 127.0.0.1 on a free port with trust authentication.
initdb refuses to run as root, so under root the server runs as the ``postgres`` OS
user the package creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from receivers import free_port
from scheduling import (
    pytest_collection_modifyitems,
    pytest_configure_node,
    pytest_runtest_teardown,
    pytest_xdist_make_scheduler,
)

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_configure_node",
    "pytest_runtest_teardown",
    "pytest_xdist_make_scheduler",
]

# Property tests judge results, never speed: on a busy two-core machine one
# example may take longer than Hypothesis's default 200 ms deadline.
settings.register_profile("kpitree", deadline=None)
settings.load_profile("kpitree")

PG_ROOT = Path("/usr/lib/postgresql")
PG_BIN_GLOB = f"{PG_ROOT}/*/bin"
PG_DATABASE = "kpitree"


def _postgres_bin() -> Path:
    candidates = [p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()]
    if not candidates:
        pytest.fail(
            f"PostgreSQL server binaries not found ({PG_BIN_GLOB}/initdb): the postgres tests "
            "need Debian's 'postgresql' package; `bash scripts/test` installs it",
            pytrace=False,
        )
    # Newest major version first (directory names are the major version).
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _as_server_user() -> dict[str, Any]:
    """subprocess arguments that run a command as the ``postgres`` OS user under root."""
    if os.geteuid() != 0:
        return {}
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(
            "running as root but there is no 'postgres' OS user to run the server as; "
            "`bash scripts/test` installs Debian's 'postgresql' package, which creates it",
            pytrace=False,
        )
    return {"user": "postgres", "group": "postgres"}


@pytest.fixture(scope="session", autouse=True)
def _user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What kpitree keeps for the user (the public holidays it computed) goes to a
    folder of the session, not to the home folder."""
    folder = tmp_path_factory.mktemp("user-cache")
    before = os.environ.get("KPITREE_CACHE_DIR")
    os.environ["KPITREE_CACHE_DIR"] = str(folder)
    yield
    if before is None:
        os.environ.pop("KPITREE_CACHE_DIR", None)
    else:
        os.environ["KPITREE_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/kpitree`` on a fresh, throwaway cluster."""
    import psycopg

    bin_dir = _postgres_bin()
    run_as = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="kpitree-pg-"))
    if run_as:
        shutil.chown(root, user="postgres", group="postgres")
    data, sockets, log = root / "data", root / "sockets", root / "server.log"

    def run(*args: str) -> None:
        # cwd: the server user may not be allowed into the directory pytest runs in.
        subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            check=True,
            cwd=root,
            capture_output=True,
            text=True,
            **run_as,
        )

    started = False
    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync")  # fmt: skip
        sockets.mkdir()
        if run_as:
            shutil.chown(sockets, user="postgres", group="postgres")
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
        started = True
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as con:
                    con.execute(f"CREATE DATABASE {PG_DATABASE}")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}/{PG_DATABASE}"
    except subprocess.CalledProcessError as exc:
        server_log = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        pytest.fail(
            f"could not start the test PostgreSQL server: {exc.cmd} exited {exc.returncode}\n"
            f"{exc.stdout}{exc.stderr}{server_log}",
            pytrace=False,
        )
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    import secrets

    import psycopg

    name = f"kt_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
