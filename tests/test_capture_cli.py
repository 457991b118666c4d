"""`cpoc capture` as a new user meets it: months, unknown patients, servers that are not FHIR
servers, URLs that are none, warnings by kind and in a file, catch-up and exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import responses
from test_capture_offline import export

from cpoc_fhir.capture.catchup import last_completed, window
from cpoc_fhir.capture.run import CaptureMonth
from cpoc_fhir.cli import main
from cpoc_fhir.errors import InputError
from cpoc_fhir.store import open_ledger

BASE = "http://fhir.test/r4"
CAPABILITY = {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance"}
# Orders without an intent: one warning of the kind "MedicationRequest: no intent; not counted
# as an order" each (fhir/read medication reader).
ORDERS = [
    {
        "resourceType": "MedicationRequest",
        "id": f"no-route-{n}",
        "status": "completed",
        "subject": {"reference": "Patient/appendix-b-nsclc"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "40048"}]
        },
        "authoredOn": f"2025-09-0{n}",
    }
    for n in (2, 3, 4)
]


def capture(tmp_path: Path, *args: str) -> int:
    return main(
        ["capture", "--store", f"sqlite:///{tmp_path / 'ledger.sqlite'}", "--no-progress", *args]
    )


@pytest.mark.parametrize("month", ["2025-1", "2025-13", "25-01", "2025-01-01", "2025/01"])
def test_a_month_is_yyyy_mm_exactly(
    tmp_path: Path, month: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert capture(tmp_path, "--month", month, "--fhir-base", BASE) == 2
    assert "not a month (YYYY-MM" in capsys.readouterr().err


def test_not_a_url_says_what_a_url_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert capture(tmp_path, "--month", "2025-11", "--fhir-base", "not-a-url") == 2
    err = capsys.readouterr().err
    assert "not a URL: give http(s)://host/path" in err and "MissingSchema" not in err


@responses.activate
def test_an_html_server_is_named_with_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    responses.get(
        f"{BASE}/metadata", body="<html><body>Welcome</body></html>", content_type="text/html"
    )
    assert capture(tmp_path, "--month", "2025-11", "--fhir-base", BASE) == 2
    err = capsys.readouterr().err
    assert f"{BASE}/metadata answered text/html, not a FHIR CapabilityStatement" in err


@responses.activate
def test_a_404_page_is_quoted_by_its_title_not_pasted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>404 Not Found</title><style>body{color:red}</style>"
        "</head><body><h1>Not Found</h1>" + "<p>The requested URL was not found.</p>" * 50
    )
    responses.get(f"{BASE}/metadata", body=page, status=404, content_type="text/html")
    assert capture(tmp_path, "--month", "2025-11", "--fhir-base", BASE) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("GET metadata → 404 Not Found: 404 Not Found"), err
    assert "<" not in err and len(err) < 200


@responses.activate
def test_the_metadata_preflight_retries_like_every_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    for _ in range(3):
        responses.get(f"{BASE}/metadata", status=503)
    responses.get(f"{BASE}/metadata", json=CAPABILITY)
    responses.get(f"{BASE}/Patient/nobody", status=404, json={"resourceType": "OperationOutcome"})
    # Reaches the next step (the patient check) only after three 503s.
    assert capture(tmp_path, "--month", "2025-11", "--fhir-base", BASE, "--patient", "nobody") == 2
    assert [c.request.url.rsplit("/", 1)[-1] for c in responses.calls][:4] == ["metadata"] * 4


@responses.activate
def test_an_unknown_patient_is_an_input_error_not_an_empty_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    responses.get(f"{BASE}/metadata", json=CAPABILITY)
    responses.get(f"{BASE}/Patient/nobody", status=404, json={"resourceType": "OperationOutcome"})
    assert capture(tmp_path, "--month", "2025-11", "--fhir-base", BASE, "--patient", "nobody") == 2
    out, err = capsys.readouterr()
    assert out == "" and "cpoc: --patient: no Patient/nobody on the FHIR server" in err


def test_an_unknown_patient_of_an_export_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = export(tmp_path / "in")
    args = ["--ndjson", str(source), "--out", str(tmp_path / "out"), "--month", "2025-09"]
    assert capture(tmp_path, *args, "--patient", "nobody") == 2
    assert "no Patient/nobody in the export" in capsys.readouterr().err


def test_warnings_are_listed_by_kind_written_to_a_file_and_kept_in_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = export(tmp_path / "in", ORDERS)
    args = ["--ndjson", str(source), "--out", str(tmp_path / "out"), "--month", "2025-09"]
    path = tmp_path / "warnings.csv"
    assert capture(tmp_path, *args, "--as-of", "2025-09-30", "--warnings", str(path)) == 0
    out = capsys.readouterr().out
    kind = "MedicationRequest: no intent; not counted as an order"
    assert "    3 × MedicationRequest: no intent;" in out  # wrapped to 80 columns:
    assert f"3 × {kind} (e.g. MedicationRequest/no-route-2, MedicationRequest/no-route-3, " in (
        " ".join(out.split())
    )
    # 80 columns but where a word (the tmp path) is longer than the room
    assert all(len(line) <= 80 or "/" in line.split()[-1] for line in out.splitlines())
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ours = [r for r in rows if r["kind"] == kind]
    assert [r["resource"] for r in ours] == [f"MedicationRequest/no-route-{n}" for n in (2, 3, 4)]
    assert {r["patient"] for r in ours} == {"Patient/appendix-b-nsclc"}
    total = int(next(x for x in out.splitlines() if x.startswith("  warnings")).split()[-1])
    assert len(rows) == total
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        [run] = ledger.runs()
    assert run.counts is not None and run.counts["warnings_by_kind"][kind] == 3
    assert len(run.counts["warning_list"]) == total


def test_warnings_as_ndjson(tmp_path: Path) -> None:
    source = export(tmp_path / "in", ORDERS)
    args = ["--ndjson", str(source), "--out", str(tmp_path / "out"), "--month", "2025-09"]
    path = tmp_path / "warnings.ndjson"
    assert capture(tmp_path, *args, "--warnings", str(path)) == 0
    rows: list[dict[str, Any]] = [json.loads(x) for x in path.read_text().splitlines()]
    assert {"patient", "resource", "kind", "message"} == set(rows[0])
    assert capture(tmp_path, *args, "--warnings", str(tmp_path / "w.txt")) == 2


# --- catch-up ------------------------------------------------------------------------------


def m(text: str) -> CaptureMonth:
    return CaptureMonth.parse(text)


@pytest.mark.parametrize(
    ("month", "since", "last", "first"),
    [
        ("2025-11", None, None, "2025-11"),  # no run before: just the month
        ("2025-11", None, "2025-10", "2025-11"),  # the month before was run: nothing skipped
        ("2025-11", None, "2025-11", "2025-11"),  # run again
        ("2025-11", None, "2025-08", "2025-09"),  # September and October were skipped
        ("2026-01", None, "2025-11", "2025-12"),  # across a year
        ("2025-11", "2025-06", "2025-10", "2025-06"),  # --since wins
        ("2025-11", None, "2023-01", "2024-12"),  # 33 skipped: the last 12 months only
    ],
)
def test_the_months_a_run_bills(
    month: str, since: str | None, last: str | None, first: str
) -> None:
    got = window(m(month), since and m(since), last and m(last))
    assert (str(got.first), str(got.last)) == (first, month)


def test_a_limited_catch_up_says_what_it_left() -> None:
    got = window(m("2025-11"), None, m("2023-01"))
    assert "2023-02 … 2024-11 not billed" in got.why and "at most 12 months" in got.why


def test_since_beyond_the_limit_or_after_the_month_is_refused() -> None:
    with pytest.raises(InputError, match="13 months; at most 12"):
        window(m("2025-11"), m("2024-11"), None)
    with pytest.raises(InputError, match="after the run's month"):
        window(m("2025-11"), m("2025-12"), None)


def test_a_skipped_month_end_is_billed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """August ran; September's run never happened; October's run bills September too."""
    source = export(tmp_path / "in")
    out = tmp_path / "out"
    common = ["--ndjson", str(source), "--out", str(out)]
    assert capture(tmp_path, *common, "--month", "2025-08", "--as-of", "2025-08-31") == 0
    capsys.readouterr()
    assert capture(tmp_path, *common, "--month", "2025-10", "--as-of", "2025-10-31") == 0
    text = capsys.readouterr().out
    assert "CPOC capture 2025-09 … 2025-10" in text
    assert "catching up from 2025-09: the last completed run was 2025-08" in text
    lines = (out / "ChargeItem.ndjson").read_text(encoding="utf-8").splitlines()
    made = {json.loads(x)["identifier"][0]["value"] for x in lines}
    # September's lines (hand-derived in test_capture_offline.SEPTEMBER) were created.
    assert "appendix-b-nsclc.treatment-month.2025-09-01" in made
    assert "declined-treatment.active-monitoring.2025-09-12" in made


def test_only_full_writing_runs_count_as_completed() -> None:
    from cpoc_fhir.store.records import RunInfo

    def run(month: str, **settings: Any) -> RunInfo:
        return RunInfo(
            1, "capture", "x", month, "finished", None, None, None, settings, None, "h", 1, None
        )  # type: ignore[arg-type]

    runs = [run("2025-10", dry_run=True), run("2025-09", patients=["a"]), run("2025-08")]
    assert str(last_completed(runs)) == "2025-08"
    assert last_completed([]) is None


def test_the_ledger_finds_finished_runs_by_scope_prefix_literally(tmp_path: Path) -> None:
    """'_' and '%' in a FHIR base are characters, not LIKE wildcards."""
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        for scope, month in (
            ("http://a_b/fhir|2025-08", "2025-08"),
            ("http://axb/fhir|2025-09", "2025-09"),
        ):
            with ledger.start_run("capture", scope, month, {}) as handle:
                handle.finish()
        with ledger.start_run("capture", "http://a_b/fhir|2025-10", "2025-10", {}):
            found = ledger.finished_runs("capture", "http://a_b/fhir|")
    assert [r.month for r in found] == ["2025-08"]  # not axb's, not the running one
