"""Running the app: bind the address first (so the printed URL is right even
for ``--port 0``), then hand the socket to uvicorn."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kpitree.errors import UserError

__all__ = ["ServeOptions", "bind", "run", "url_of"]


@dataclass(frozen=True)
class ServeOptions:
    """The security options of ``kpitree serve`` (``None``: as ``web:`` says)."""

    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    session_idle_minutes: int | None = None
    session_lifetime_hours: int | None = None
    public_api_docs: bool | None = None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; KT620 when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, so that asyncio sets TCP_NODELAY on every accepted
    # connection (it skips sockets of protocol 0): without it a response's
    # headers and body leave as two segments and, on a kept-alive connection,
    # the body waits for the client's delayed ACK (about 40 ms a request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UserError.of(
            "KT620", "web.serve.port_busy", None, host=host, port=port, error=exc.strerror or exc
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run(
    project_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    secure_cookies: bool | None = None,
    options: ServeOptions | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the project until interrupted. Refuses a non-loopback ``host``
    when no users are configured (KT609). ``options`` add to the ``web:``
    settings of ``kpitree.yaml`` (see :class:`~kpitree.web.settings.WebSettings`)."""
    import uvicorn

    from kpitree.project import Project
    from kpitree.web.app import check_bind, create_app
    from kpitree.web.settings import WebSettings

    project = Project.load(project_path)  # a broken definition fails here, with locations
    check_bind(project.path, host)
    given = options or ServeOptions()
    settings = WebSettings.of(
        project.tree.web,
        host=host,
        allowed_hosts=given.allowed_hosts,
        trusted_proxies=given.trusted_proxies,
        session_idle_minutes=given.session_idle_minutes,
        session_lifetime_hours=given.session_lifetime_hours,
        public_api_docs=given.public_api_docs,
        secure_cookies=secure_cookies,
    )
    sock = bind(host, port)
    url = url_of(sock)
    app = create_app(project.path, settings=settings)
    # Forwarded headers are the app's business (kpitree.web.guard): believed only
    # from the proxies the operator names, never from any loopback client.
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl+C is how a server is stopped, not an error; uvicorn re-raises it
    finally:
        sock.close()
