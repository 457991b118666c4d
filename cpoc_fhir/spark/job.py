"""The Spark jobs: Bulk NDJSON → lines as Parquet (timeline), → ChargeItems as NDJSON (capture).

One pass reads every NDJSON file as text with its byte offsets (Hadoop ``TextInputFormat``, so
files are split across executors), keys each line by its patient (``keying``), and keeps the
keyed records (memory, then disk). The driver collects only what is tied to no patient —
shared resources (Medication, Organization …), Bundle aliases, warnings — and broadcasts
them; the patients' records are grouped per patient and evaluated in the executors, one
``Evaluator`` per partition (``partition``): no per-patient work on the driver. The packs of
value-and-models §15 bill in the executors exactly as ``cpoc timeline`` / ``cpoc capture``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cpoc_fhir.capture.run import CaptureSummary
from cpoc_fhir.fhir.read.references import patient_id
from cpoc_fhir.spark import partition, schema
from cpoc_fhir.spark.keying import ALIAS, PATIENT, SHARED, WARNING, first_by_order, key_line
from cpoc_fhir.spark.session import ndjson_files, rename_parts, to_uri

TEXT_INPUT = "org.apache.hadoop.mapreduce.lib.input.TextInputFormat"
SPLIT_BYTES = 128 * 1024 * 1024  # Hadoop's usual block size: what one input task reads
EXISTING_FILES = 1 << 20  # file numbers of the ChargeItems captured before: after the export's


@dataclass
class Gathered:
    """The keyed export: per-patient records (an RDD) and what the driver broadcasts."""

    patients: Any  # RDD[(patient key, (kind, order, JSON text))]
    shared: Any  # Broadcast[dict "Type/id" → resource]
    aliases: Any  # Broadcast[dict fullUrl → "Type/id"]
    warnings: list[str]
    keyed: Any  # the persisted RDD of keyed records (unpersisted by ``release``)

    def release(self) -> None:
        self.keyed.unpersist()


@dataclass
class TimelineResult:
    patients: int
    lines: int
    lines_path: str
    patients_path: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class CaptureResult:
    summary: CaptureSummary
    items_path: str | None  # None: a dry run
    files: list[str]
    warnings: list[str] = field(default_factory=list)


def read_lines(spark: Any, location: str | Path, first_file: int = 0) -> Any:
    """RDD of ``(file number, file name, byte offset, line)`` over the location's NDJSON."""
    sc = spark.sparkContext
    parts = []
    files = ndjson_files(spark, location)
    for number, (uri, name, _size) in enumerate(files, start=first_file):
        rdd = sc.newAPIHadoopFile(
            uri, TEXT_INPUT, "org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.Text"
        )
        parts.append(rdd.map(lambda kv, n=number, f=name: (n, f, kv[0], kv[1])))
    lines = sc.union(parts) if len(parts) > 1 else parts[0]
    # A Bulk export has one file per resource type, many of them small: one task per file
    # would cost more than the work. Merge them (no shuffle) into at least one partition per
    # core and one per SPLIT_BYTES of input; the per-patient stage inherits that count
    # unless spark.default.parallelism says otherwise.
    total = sum(size for _, _, size in files)
    target = max(sc.defaultParallelism, -(-total // SPLIT_BYTES))
    return lines.coalesce(target) if lines.getNumPartitions() > target else lines


def gather(
    spark: Any,
    location: str | Path,
    wanted: Iterable[str] | None = None,
    existing: str | Path | None = None,
) -> Gathered:
    """Key the export at ``location``; ``wanted``: only these patients ("x" or "Patient/x");
    ``existing``: ChargeItems captured before, added to their patients' records as ``E``."""
    sc = spark.sparkContext
    keyed = read_lines(spark, location).flatMap(lambda r: key_line(r[0], r[1], r[2], r[3]))
    keyed = keyed.persist(_storage(spark))
    small = keyed.filter(lambda k: k[0] != PATIENT).collect()
    shared_first: dict[str, tuple[Any, str]] = {}
    aliases: dict[str, str] = {}
    warnings = []
    for kind, key, order, payload in sorted(small, key=lambda k: k[2]):
        if kind == SHARED:
            shared_first[key] = first_by_order(
                shared_first.get(key, (order, payload)), (order, payload)
            )
        elif kind == ALIAS:
            aliases[key] = payload
        elif kind == WARNING:
            warnings.append(payload)
    shared = {key: json.loads(text) for key, (_, text) in shared_first.items()}
    patients = keyed.filter(lambda k: k[0] == PATIENT).map(
        lambda k: (k[1], (partition.OWN, k[2], k[3]))
    )
    if existing is not None:
        patients = patients.union(_existing(spark, existing))
    if wanted is not None:
        keys = {f"Patient/{patient_id(p)}" for p in wanted}
        patients = patients.filter(lambda record: record[0] in keys)
    return Gathered(patients, sc.broadcast(shared), sc.broadcast(aliases), warnings, keyed)


def _existing(spark: Any, location: str | Path) -> Any:
    """ChargeItems captured before, keyed by their subject: ``(key, (E, order, text))``."""

    def key(record: tuple[int, str, int, str]) -> list[tuple[str, tuple[str, Any, str]]]:
        number, _name, offset, text = record
        if not text.strip():
            return []
        try:
            item = json.loads(text)
        except ValueError:
            return []  # a line cut short: offline capture skips it the same way (journal)
        subject = str(((item.get("subject") or {}) if isinstance(item, dict) else {}).get(
            "reference", ""))  # fmt: skip
        if not subject.startswith("Patient/"):
            return []
        return [(subject, (partition.EXISTING, (number, offset, 0), text))]

    return read_lines(spark, location, EXISTING_FILES).flatMap(key)


def run_timelines(
    spark: Any,
    location: str | Path,
    out: str | Path,
    spec: partition.EvaluatorSpec,
    as_of: date,
    wanted: Iterable[str] | None = None,
) -> TimelineResult:
    """Every patient's lines as Parquet under ``out`` (``lines/``, ``patients/``)."""
    from pyspark import StorageLevel

    gathered = gather(spark, location, wanted)
    packed = pack_spec(spec)
    shared, aliases = gathered.shared, gathered.aliases
    texts = gathered.patients.groupByKey().mapPartitions(
        lambda groups: partition.timelines(groups, packed, as_of, shared.value, aliases.value)
    )
    texts = texts.persist(StorageLevel.MEMORY_AND_DISK)
    line_schema, patient_schema = schema.spark_schemas()
    base = to_uri(out).rstrip("/")
    lines_path, patients_path = f"{base}/lines", f"{base}/patients"
    try:
        patient_rows = texts.map(lambda t: schema.patient_row(json.loads(t), t))
        spark.createDataFrame(patient_rows, patient_schema).write.parquet(patients_path)
        line_rows = texts.flatMap(lambda t: schema.line_rows(json.loads(t)))
        spark.createDataFrame(line_rows, line_schema).write.parquet(lines_path)
        counts = texts.map(lambda t: (1, len(json.loads(t)["lines"]))).fold(
            (0, 0), lambda a, b: (a[0] + b[0], a[1] + b[1])
        )
    finally:
        texts.unpersist()
        gathered.release()
    return TimelineResult(counts[0], counts[1], lines_path, patients_path, gathered.warnings)


def run_capture(
    spark: Any,
    location: str | Path,
    out: str | Path,
    job: partition.CaptureJob,
    wanted: Iterable[str] | None = None,
    existing: str | Path | None = None,
) -> CaptureResult:
    """The month's ChargeItems as NDJSON under ``out/ChargeItem/`` (one file per partition,
    ready for Bulk ``$import``), planned against ``existing`` (ChargeItems captured before)."""
    from pyspark import StorageLevel

    gathered = gather(spark, location, wanted, existing)
    shared, aliases = gathered.shared, gathered.aliases
    results = gathered.patients.groupByKey().mapPartitions(
        lambda groups: partition.capture(groups, job, shared.value, aliases.value)
    )
    results = results.persist(StorageLevel.MEMORY_AND_DISK)
    items_path: str | None = None
    files: list[str] = []
    try:
        if not job.dry_run:
            items_path = to_uri(out).rstrip("/") + "/ChargeItem"
            results.filter(lambda r: r[0] == "item").map(lambda r: r[1]).saveAsTextFile(items_path)
            files = rename_parts(spark, items_path, ".ndjson")
        parts = results.filter(lambda r: r[0] == "summary").map(lambda r: r[1]).collect()
    finally:
        results.unpersist()
        gathered.release()
    total = CaptureSummary(str(job.months.last), str(job.months.first))
    for part in parts:
        partition.merge(total, part)
    return CaptureResult(total, items_path, files, gathered.warnings)


def pack_spec(spec: partition.EvaluatorSpec) -> bytes:
    """The spec pickled for the executors (cloudpickle: the settings hold mappingproxies;
    plain ``pickle.loads`` reads it back)."""
    from pyspark import cloudpickle

    return bytes(cloudpickle.dumps(spec))


def _storage(spark: Any) -> Any:
    from pyspark import StorageLevel

    return StorageLevel.MEMORY_AND_DISK
