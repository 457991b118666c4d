"""The SparkSession of a ``--engine spark`` run, and the Bulk NDJSON files of a location.

``--master`` (default ``local[*]``, or spark-submit's under ``spark-submit``) and
``--spark-conf KEY=VALUE`` go to the session as given. Spark's own stage bar on stderr
(``spark.ui.showConsoleProgress``) follows the progress bar policy of every command
(``cpoc_fhir.progress``): on when stderr is a terminal and ``--no-progress`` is not given,
off otherwise, so a pipe or a log file gets no carriage-return lines from the JVM either.
With a local master the executors' Python workers are the driver's interpreter and import the
driver's ``cpoc_fhir`` (``PYSPARK_PYTHON``, ``spark.executorEnv.PYTHONPATH``), so the
code that runs per patient is the code that was started; on a cluster the package must be
installed on the executors (docs/notes/spark.md). Locations are Hadoop URIs (``file://``,
``s3a://``, ``abfss://``, ``gs://`` … whatever connectors the Spark has); a plain path is a
local file or folder.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import cpoc_fhir
from cpoc_fhir.errors import InputError
from cpoc_fhir.progress import shown

DEFAULT_MASTER = "local[*]"
_INSTALL = "install the Spark extra: scripts/setup --spark (pip install 'cpoc-fhir[spark]')"


def parse_conf(pairs: Iterable[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` settings (``--spark-conf``) as a dict; a malformed one is an InputError."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError("--spark-conf", f"expected KEY=VALUE, not {pair!r}")
        out[key.strip()] = value
    return out


def console_progress(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether Spark draws its stage bar: the bar policy (a terminal on ``stream``, default
    stderr, where the JVM writes it, and not ``--no-progress``)."""
    return shown(sys.stderr if stream is None else stream, quiet)


def session_conf(master: str, conf: Mapping[str, str], console: bool = False) -> dict[str, str]:
    """The settings the session is built with: ours for a local master, then the user's;
    ``console``: Spark's stage bar on (``console_progress``)."""
    out = {
        "spark.ui.showConsoleProgress": "true" if console else "false",
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        package_root = str(Path(cpoc_fhir.__file__).resolve().parents[1])
        path = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        out["spark.executorEnv.PYTHONPATH"] = os.pathsep.join(path)
    out.update(conf)
    return out


def under_spark_submit() -> bool:
    """Whether this driver was started by ``spark-submit`` (it passes the gateway's port)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(
    master: str | None = None, conf: Mapping[str, str] | None = None, console: bool = False
) -> Any:
    """A SparkSession for ``master`` (None: spark-submit's master, else ``local[*]``);
    pyspark or Java missing is an InputError. ``console``: see ``session_conf``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark", f"pyspark is not installed: {_INSTALL}") from None
    submitted = master is None and under_spark_submit()
    master = master or DEFAULT_MASTER
    if not submitted and master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # PySpark starts its Python workers with $PYSPARK_PYTHON (default python3 on PATH).
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.appName("cpoc")
    if submitted:  # spark-submit's --master and --conf stand; ours only add to them
        settings = dict(conf or {})
    else:
        builder = builder.master(master)
        settings = session_conf(master, conf or {}, console)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer …
        raise InputError(
            f"--master {master}", f"Spark could not start ({type(exc).__name__}): {exc}"
        ) from None
    spark.sparkContext.setLogLevel(os.environ.get("CPOC_SPARK_LOG_LEVEL", "WARN"))
    return spark


_MANGLED = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/(?!/)")  # what Path("s3a://b/x") leaves


@contextmanager
def running_session(
    master: str | None, conf: Mapping[str, str], console: bool = False
) -> Iterator[Any]:
    """A session for one command: an active one (a notebook's, a test's) is used and left
    running, as it was built; one started here (``console``: Spark's stage bar on) is
    stopped at the end."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark", f"pyspark is not installed: {_INSTALL}") from None
    active = SparkSession.getActiveSession()
    spark = active or spark_session(master, conf, console)
    try:
        yield spark
    finally:
        if active is None:
            spark.stop()


def to_uri(location: str | Path) -> str:
    """A Hadoop URI for ``location``: a URI as given (also one a ``Path`` option turned into
    "s3a:/b/x"), a plain path as an absolute file URI."""
    text = str(location)
    mangled = _MANGLED.match(text)
    if mangled and mangled.group(1) != "file":
        return f"{mangled.group(1)}://{text[mangled.end() :]}"
    if "://" in text or mangled:
        return text
    return Path(text).resolve().as_uri()


def local_path(location: str | Path) -> Path | None:
    """The local path of a plain path or ``file:`` URI, else None."""
    uri = to_uri(location)
    if not uri.startswith("file:"):
        return None
    return Path(uri.removeprefix("file:").removeprefix("//"))


def ndjson_files(spark: Any, location: str | Path) -> list[tuple[str, str, int]]:
    """``(uri, name, size in bytes)`` of the NDJSON to read: the file itself, or a folder's
    ``*.ndjson`` files by name (``open_source``'s order); none is an InputError naming the
    location."""
    jvm = spark.sparkContext._jvm
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    uri = to_uri(location)
    path = jvm.org.apache.hadoop.fs.Path(uri)
    try:
        fs = path.getFileSystem(hadoop)
        if not fs.exists(path):
            raise InputError(str(location), "no such file or folder")
        status = fs.getFileStatus(path)
        if not status.isDirectory():
            return [(status.getPath().toString(), status.getPath().getName(), status.getLen())]
        found = [
            (s.getPath().toString(), s.getPath().getName(), s.getLen())
            for s in fs.listStatus(path)
            if not s.isDirectory() and s.getPath().getName().endswith(".ndjson")
        ]
    except InputError:
        raise
    except Exception as exc:  # py4j: no connector for the scheme, no access …
        raise InputError(str(location), f"cannot be listed ({type(exc).__name__})") from None
    if not found:
        raise InputError(str(location), "no .ndjson files in this folder")
    return sorted(found, key=lambda item: item[1])


def rename_parts(spark: Any, folder: str, suffix: str) -> list[str]:
    """Give the ``part-*`` files Spark wrote in ``folder`` the ``suffix`` (".ndjson"), drop
    the empty ones and the ``_SUCCESS`` marker; the URIs of the files left."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(folder)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    kept = []
    for status in fs.listStatus(path):
        part = status.getPath()
        name = part.getName()
        if name == "_SUCCESS" or (name.startswith("part-") and status.getLen() == 0):
            fs.delete(part, False)
        elif name.startswith("part-") and not name.endswith(suffix):
            target = jvm.org.apache.hadoop.fs.Path(path, name + suffix)
            fs.rename(part, target)
            kept.append(target.toString())
    return sorted(kept)
