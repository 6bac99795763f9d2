"""The listening socket ``kpitree serve`` hands to uvicorn."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from kpitree.errors import UserError
from kpitree.web.server import bind, url_of


def test_accepted_connections_send_without_delay() -> None:
    """asyncio sets TCP_NODELAY only on TCP sockets it recognises as such; a
    socket of protocol 0 kept Nagle's algorithm, and on a kept-alive
    connection every response body waited for the client's delayed ACK."""
    sock = bind("127.0.0.1", 0)
    seen: list[int] = []

    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        host, port = sock.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert url_of(sock).startswith("http://127.0.0.1:")
        # A loop of its own, in a thread: a browser test earlier in the session
        # may have left one running in this one.
        runner = threading.Thread(target=asyncio.run, args=(main(),))
        runner.start()
        runner.join(30)
    finally:
        sock.close()
    assert seen and seen[0] != 0


def test_a_busy_port_is_a_clear_error() -> None:
    first = bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(UserError) as caught:
            bind("127.0.0.1", port)
        assert caught.value.diagnostics[0].code == "KT620"
    finally:
        first.close()
