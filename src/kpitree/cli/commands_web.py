"""Commands of the web app: serve, users."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kpitree.cli.app import app
from kpitree.i18n import t

PathArg = Annotated[Path, typer.Argument(help="Project folder or its kpitree.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def serve_project(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    secure_cookies: bool | None = None,
) -> None:
    """Start the dashboard on ``path`` and print its URL (used by serve and demo)."""
    from kpitree.web.server import run

    def ready(url: str) -> None:
        typer.echo(t("web.serve.url", project=str(path), url=url))
        sys.stdout.flush()

    run(
        path,
        host=host,
        port=port,
        open_browser=open_browser,
        secure_cookies=secure_cookies,
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
            "e.g. behind a TLS proxy that forwards the scheme).",
        ),
    ] = None,
) -> None:
    """Start the web dashboard on a project and print its URL."""
    serve_project(
        path, host=host, port=port, open_browser=open_browser, secure_cookies=secure_cookies
    )
