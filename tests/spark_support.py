"""Helpers of the Spark engine tests: the Spark pipeline run in plain Python, and test exports.

``pipeline_groups`` does what ``spark.job.gather`` + ``groupByKey`` do (key every line of
every ``*.ndjson`` file, keep the first copy of each shared resource, group per patient) in
one process, so the keying and the per-partition evaluation are checked against the local
engine without Spark; the Spark tests then check that Spark does the same.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.spark import partition
from cpoc_fhir.spark.keying import ALIAS, PATIENT, SHARED, WARNING, first_by_order, key_line

EXTERNAL_NDJSON = ("synthea_bulk_10pt_subset", "clinosim_us_generated")
EXTERNAL_BUNDLES = "synthea_r4_transaction"


def external_data() -> Path:
    """The external FHIR data (tests/conftest.py's place, or $CPOC_EXTERNAL_DATA for a git
    worktree, whose parent has no shared/ folder); skips when absent."""
    from conftest import EXTERNAL

    for place in (EXTERNAL, Path(os.environ.get("CPOC_EXTERNAL_DATA", EXTERNAL))):
        if place.is_dir():
            return place
    pytest.skip("external FHIR data (../shared/data/external) is not present")


def pipeline_groups(
    folder: Path,
) -> tuple[list[tuple[str, list[partition.Item]]], dict[str, Any], dict[str, str], list[str]]:
    groups: dict[str, list[partition.Item]] = defaultdict(list)
    shared: dict[str, tuple[Any, str]] = {}
    aliases: dict[str, str] = {}
    warnings = []
    for number, path in enumerate(sorted(folder.glob("*.ndjson"), key=lambda p: p.name)):
        offset = 0
        with path.open("rb") as handle:
            for raw in handle:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                for kind, key, order, payload in key_line(number, path.name, offset, text):
                    if kind == PATIENT:
                        groups[key].append((partition.OWN, order, payload))
                    elif kind == SHARED:
                        shared[key] = first_by_order(shared.get(key, (order, payload)),
                                                     (order, payload))  # fmt: skip
                    elif kind == ALIAS:
                        aliases[key] = payload
                    elif kind == WARNING:
                        warnings.append(payload)
                offset += len(raw)
    return (
        list(groups.items()),
        {k: json.loads(text) for k, (_, text) in shared.items()},
        aliases,
        warnings,
    )


def external_export(external: Path, out: Path) -> Path:
    """The external data's NDJSON files, plus each Synthea transaction Bundle as one NDJSON
    line (urn:uuid references: the Bundle path of the keying), in one folder."""
    out.mkdir(parents=True)
    for name in EXTERNAL_NDJSON:
        for path in sorted((external / name).glob("*.ndjson")):
            shutil.copy(path, out / path.name)
    lines = [
        json.dumps(json.loads(path.read_text()))
        for path in sorted((external / EXTERNAL_BUNDLES).glob("*.json"))
    ]
    (out / "Bundle.synthea.ndjson").write_text("\n".join(lines) + "\n")
    return out


def timelines_by_patient(texts: list[str]) -> dict[str, str]:
    return {json.loads(t)["patient"]: t for t in texts}
