"""The ``--engine`` options of ``cpoc timeline`` and ``cpoc capture`` (standard library only:
the parsers are built without importing pyspark)."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_MASTER = "local[*]"


def add_engine_options(parser: argparse.ArgumentParser | Any) -> None:
    """``--engine local|spark``, ``--master``, ``--spark-conf KEY=VALUE`` (repeatable)."""
    group = parser.add_argument_group("Spark engine (pip install 'cpoc-fhir[spark]')")
    group.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: this process (default); spark: a Spark job over Bulk NDJSON (a local path "
        "or any Hadoop URI: file://, s3a://, abfss://, gs:// …), results written to --out",
    )
    group.add_argument(
        "--master",
        metavar="URL",
        help=f"Spark master (default {DEFAULT_MASTER}, or spark-submit's when started by it; "
        "e.g. local[2], yarn, spark://host:7077)",
    )
    group.add_argument(
        "--spark-conf",
        action="append",
        metavar="KEY=VALUE",
        help="a Spark setting, passed through (repeatable), e.g. spark.executor.memory=4g",
    )
