"""Fixtures of the engine tests.

``spark_session`` (session): one PySpark ``local[2]`` session for every Spark test
of the run (a JVM costs seconds to start and hundreds of MB to keep); tests attach
engines to it or open ``pyspark://local[2]``, which finds it, and none stops it: the
session's end does, or, under ``bash scripts/test``, the end of the Spark tests
(tests/scheduling.py).
Needs the ``spark`` extra and Java 17 (``bash scripts/test`` installs both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from scheduling import on_spark_done


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if os.environ.get("CI") != "true":  # CI installs every extra: a skip would hide a failure
        pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    lake = tmp_path_factory.mktemp("lake")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("kpitree-tests")
        .config("spark.sql.warehouse.dir", str(lake))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        # The tests' queries are many and small: the JVM's optimising compiler
        # (C2) and parallel collector cost more CPU than they give back. Measured
        # on the whole-status test: 138 s of JVM CPU with the defaults, 60 s so.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    stopped: list[bool] = []

    def stop() -> None:
        if not stopped:
            stopped.append(True)
            session.stop()

    on_spark_done(stop)
    yield session
    stop()
