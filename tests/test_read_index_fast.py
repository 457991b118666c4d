"""Index._loaded, the inlined common case of reading a patient's NDJSON lines: the same
resources and the same warnings as the former per-line ``_load`` (kept below as the
reference), for drawn exports with good, malformed, foreign and long-integer lines, LF and
CRLF endings (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.fhir.read.index import Index
from cpoc_fhir.fhir.read.ndjson import scan_ndjson
from cpoc_fhir.fhir.read.resources import PatientResources


def _former_patients(index: Index) -> Iterator[PatientResources]:
    """Index.patients before: every line through ``_load``."""
    from contextlib import ExitStack

    from cpoc_fhir.fhir.read.index import _open_map
    from cpoc_fhir.fhir.read.resources import dedupe

    with ExitStack() as stack:
        maps = [_open_map(f.path, stack) for f in index.files]
        for key, items in index.groups.items():
            warnings: list[str] = []
            resources = [r for item in items if (r := index._load(item, key, maps)) is not None]
            yield PatientResources(key, dedupe(resources, warnings), warnings=warnings)


def _observation(n: int, patient: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "subject": {"reference": f"Patient/{patient}"},
        **extra,
    }


FOREIGN = (
    '{"resourceType": "Observation", "id": "x", "focus": [{"subject": {"reference": '
    '"Patient/a"}}], "patient": {"reference": "Patient/b"}}'
)
TRUNCATED = '{"resourceType": "Observation", "subject": {"reference": "Patient/a"}, "id": '
_extra = st.dictionaries(
    st.sampled_from(["status", "valueInteger", "note"]),
    st.one_of(
        st.sampled_from(["final", "é → ü"]),
        st.integers(-(10**21), 10**21),  # 20+ digits: json.loads decides
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=2,
)
_line = st.one_of(
    st.builds(
        lambda n, p, e: json.dumps(_observation(n, p, e)),
        st.integers(0, 5),
        st.sampled_from(["a", "b"]),
        _extra,
    ),
    # compact, as Bulk exports write it
    st.builds(
        lambda n, p: json.dumps(_observation(n, p, {}), separators=(",", ":")),
        st.integers(0, 5),
        st.sampled_from(["a", "b"]),
    ),
    # the byte search finds Patient/a (a nested "subject"), the resource is about Patient/b
    st.just(FOREIGN),
    st.just('{"subject": {"reference": "Patient/a"}, "id": "nt"}'),  # no resourceType
    st.just(TRUNCATED),
    st.just('{"resourceType": 5, "subject": {"reference": "Patient/a"}}'),
    st.just('{"resourceType": "Patient", "id": "a"}'),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_line, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_same_resources_and_warnings_as_the_former_load(lines: list[str], ending: str) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / "Observation.ndjson"
        path.write_bytes("".join(line + ending for line in lines).encode())
        new, old = Index(), Index()
        scan_ndjson(path, path.name, new)
        scan_ndjson(path, path.name, old)
        got = [(p.patient_ref, p.resources, p.warnings) for p in new.patients(None)]
        want = [(p.patient_ref, p.resources, p.warnings) for p in _former_patients(old)]
        assert got == want
        assert new.warnings == old.warnings


def test_by_hand(tmp_path: Path) -> None:
    """A good line, a truncated one and one about another patient than the byte search
    found: the good one read, the two others left out with their warnings."""
    path = tmp_path / "Observation.ndjson"
    path.write_text(
        json.dumps(_observation(1, "a", {"valueInteger": 12345678901234567890123}))
        + "\n"
        + TRUNCATED
        + "\n"
        + FOREIGN
        + "\n"
    )
    index = Index()
    scan_ndjson(path, path.name, index)
    (patient,) = index.patients(None)
    assert [r["id"] for r in patient.resources] == ["o1"]
    assert patient.resources[0]["valueInteger"] == 12345678901234567890123  # an int, as json
    assert index.warnings == [
        # json.loads' own message: the value after "id": missing, at the 1-based column just
        # past the end of the text
        f"Observation.ndjson:2: not JSON (Expecting value at column {len(TRUNCATED) + 1}); "
        "line skipped",
        "Observation.ndjson:3: Observation/x is not about Patient/a; skipped",
    ]
