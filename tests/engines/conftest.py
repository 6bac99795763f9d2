"""Fixtures of the engine tests.

``spark_session`` (session): one PySpark ``local[2]`` session for every Spark test
of the run (a JVM costs seconds to start and hundreds of MB to keep); tests attach
engines to it or open ``pyspark://local[2]``, which finds it, and none stops it.
Needs the ``spark`` extra and Java 17 (``bash scripts/test`` installs both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


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
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
