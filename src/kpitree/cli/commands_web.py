"""Commands of the web app: serve, users."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kpitree.cli import state
from kpitree.cli.application import app
from kpitree.cli.output import print_json
from kpitree.i18n import t

if TYPE_CHECKING:
    from kpitree.web.server import ServeOptions
    from kpitree.web.users import UserStore

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def serve_project(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    secure_cookies: bool | None = None,
    options: ServeOptions | None = None,
) -> None:
    """Start the dashboard on ``path`` and print its URL (used by serve and demo)."""
    from kpitree.web.server import run

    state.long_running()

    def ready(url: str) -> None:
        typer.echo(t("web.serve.url", project=str(path), url=url))
        sys.stdout.flush()

    run(
        path,
        host=host,
        port=port,
        open_browser=open_browser,
        secure_cookies=secure_cookies,
        options=options,
        on_ready=ready,
    )


@app.command()
def serve(
    path: PathArg = Path(),
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but 127.0.0.1 needs users (kpitree users add).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = (
        8000
    ),
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the dashboard in a browser.")
    ] = False,
    secure_cookies: Annotated[
        bool | None,
        typer.Option(
            "--secure-cookies/--no-secure-cookies",
            help="Mark cookies Secure (default: when the request came over https, "
            "e.g. behind a --trusted-proxy that forwards it).",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="Another host name the dashboard is opened under (repeatable; besides "
            "127.0.0.1, localhost, [::1] and --host). Other names are refused.",
        ),
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            metavar="ADDRESS",
            help="Address or CIDR of a reverse proxy whose X-Forwarded-For/-Proto and "
            "Forwarded headers are believed (repeatable; default: none).",
        ),
    ] = None,
    session_idle: Annotated[
        int | None,
        typer.Option(
            "--session-idle",
            metavar="MINUTES",
            min=1,
            help="Minutes after which an unused session ends (default 480).",
        ),
    ] = None,
    session_lifetime: Annotated[
        int | None,
        typer.Option(
            "--session-lifetime",
            metavar="HOURS",
            min=1,
            help="Hours after the login when a session ends (default 336, 14 days).",
        ),
    ] = None,
    public_api_docs: Annotated[
        bool | None,
        typer.Option(
            "--public-api-docs/--private-api-docs",
            help="Serve /openapi.json and /docs without a login (default: viewers only).",
        ),
    ] = None,
) -> None:
    """Start the web dashboard on a project and print its URL."""
    from kpitree.web.server import ServeOptions

    options = ServeOptions(
        allowed_hosts=tuple(allowed_host or ()),
        trusted_proxies=tuple(trusted_proxy or ()),
        session_idle_minutes=session_idle,
        session_lifetime_hours=session_lifetime,
        public_api_docs=public_api_docs,
    )
    serve_project(
        path,
        host=host,
        port=port,
        open_browser=open_browser,
        secure_cookies=secure_cookies,
        options=options,
    )


users_app = typer.Typer(
    help="Users of the web dashboard (roles: viewer, editor, admin).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (default: the current folder).")
]


def _store(project: Path) -> UserStore:
    from kpitree.project import Project
    from kpitree.web.users import UserStore

    return UserStore(Project.load(project).path)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt(
        t("web.users.password_prompt"), hide_input=True, confirmation_prompt=True
    )
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (Japanese is fine; no spaces).")],
    role: Annotated[
        str, typer.Option("--role", "-r", help="viewer, editor or admin (the first user: admin).")
    ],
    project: ProjectOpt = Path(),
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Add a user; the password is asked twice (or read with --password-stdin)."""
    store = _store(project)
    from kpitree.web.users import check_name, check_role

    check_name(name)
    check_role(role)
    record = store.add(name, role, _read_password(password_stdin))
    if json:
        print_json(record.to_json())
    else:
        typer.echo(t("web.users.added", name=record.name, role=record.role))


@users_app.command("list")
def users_list(project: ProjectOpt = Path(), json: JsonOpt = False) -> None:
    """List the users and their roles."""
    records = _store(project).list()
    if json:
        print_json({"users": [r.to_json() for r in records]})
        return
    if not records:
        typer.echo(t("web.users.none"))
    for r in records:
        typer.echo(t("web.users.line", name=r.name, role=r.role, created=r.created_at))


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="User name.")],
    project: ProjectOpt = Path(),
    json: JsonOpt = False,
) -> None:
    """Remove a user (their sessions end at once)."""
    _store(project).remove(name)
    if json:
        print_json({"removed": name})
    else:
        typer.echo(t("web.users.removed", name=name))


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    project: ProjectOpt = Path(),
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Set a new password (the user's sessions end)."""
    store = _store(project)
    if store.get(name) is None:
        from kpitree.errors import UserError

        raise UserError.of("KT611", "web.users.unknown", None, name=name)
    store.set_password(name, _read_password(password_stdin))
    if json:
        print_json({"name": name, "password_changed": True})
    else:
        typer.echo(t("web.users.password_changed", name=name))
