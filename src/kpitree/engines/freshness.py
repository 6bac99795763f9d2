"""How fresh what is computed on a database server is: such a database
(PostgreSQL, Spark, ClickHouse, …) gives no cheap sign of new data, so what is
kept from it (pages, account scores) stands for :data:`SERVER_DATA_TTL`
seconds: its data version moves on every that many seconds (docs/web.md, live
updates)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SERVER_DATA_TTL", "server_data_version"]

SERVER_DATA_TTL = 300.0


def server_data_version(clock: Callable[[], float] = time.time) -> str:
    """``server:<n>``, ``n`` counting periods of :data:`SERVER_DATA_TTL`
    seconds on ``clock``."""
    return f"server:{int(clock() // SERVER_DATA_TTL)}"
