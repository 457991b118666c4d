"""The value report and ``cpoc model`` give, byte for byte, the JSON they gave before their hot
paths were tuned.

The input is a generated practice kept in the repository (``tests/data/perf/practice.tar.xz``:
120 patients, seed 23, year 2025, with their CARIN BB claims; stored, not regenerated, so that
a change to the generator does not move the goldens). The goldens
(``tests/data/perf/*.json.gz``) were produced BEFORE the tuning, from main's code at commit
ee095e4 (the merge of the value-based adjustment), by this file's writer run against that
checkout:

    PYTHONPATH=<main checkout> python tests/test_perf_equivalence.py --write

The two value goldens were written again from commit 1b45090 (main just before the tuning was
merged, still untuned) when the report gained keys on purpose — ``patients`` (§14.3's
fee-for-service count), ``quality.minimumDenominator`` and the cancer types' ``onPathway`` /
``excludedTrial``; every other value was equal to the ee095e4 goldens.

When a result changes on purpose (a rule, a new code), regenerate them the same way from the
code that makes the change, and say so in the commit.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parent / "data" / "perf"
KNOWLEDGE = Path(__file__).resolve().parents[1] / "cpoc_fhir" / "knowledge" / "data"
PERIOD = ["--from", "2025-01-01", "--to", "2025-12-31", "--format", "json"]


# Keys a report gained on purpose after its golden was written by the untuned code; the test
# compares everything else. `cpoc model`'s "feeForService" (§14.3: Option 1's patients
# counted apart) is the same zero count for every patient of this practice (no cancer-type
# setting).
ADDED_SINCE = {"model-margin": ("feeForService",), "model-payer": ("feeForService",)}


def _value(folder: Path, work: Path) -> list[str]:
    out = work / "value.json"
    return [
        *("report", "value", "--year", "2025", "--format", "json", "--out", str(out)),
        *("--store", f"sqlite:///{work}/store.sqlite"),
        *("--benchmarks", str(KNOWLEDGE / "benchmarks-example.toml"), str(folder)),
    ]


def _value_phase2(folder: Path, work: Path) -> list[str]:
    # Without benchmarks, other phases: the measures and the ER counts alone.
    out = work / "value.json"
    return [
        *("report", "value", "--year", "2025", "--format", "json", "--out", str(out)),
        *("--store", f"sqlite:///{work}/store.sqlite", "--phase", "quality=2,er=2", str(folder)),
    ]


def _model_margin(folder: Path, work: Path) -> list[str]:
    # Records and charges in one folder (one pass), a fee schedule and a margin.
    fees = KNOWLEDGE / "fee-schedule-example.toml"
    return [
        *("model", str(folder), "--ffs", str(folder), *PERIOD),
        *("--fee-schedule", str(fees), "--margin=5%"),
    ]


def _model_payer(folder: Path, work: Path) -> list[str]:
    # The charges from a folder of their own (read apart, kept by patient), a payer file.
    ffs = work / "ffs"
    ffs.mkdir(exist_ok=True)
    shutil.copy(folder / "ExplanationOfBenefit.ndjson", ffs)
    payer = KNOWLEDGE / "payer-example.toml"
    return ["model", str(folder), "--ffs", str(ffs), *PERIOD, "--payer", str(payer)]


CASES: dict[str, Callable[[Path, Path], list[str]]] = {
    "value": _value,
    "value-phase2": _value_phase2,
    "model-margin": _model_margin,
    "model-payer": _model_payer,
}


def _practice(into: Path) -> Path:
    folder = into / "practice"
    with tarfile.open(DATA / "practice.tar.xz") as archive:
        archive.extractall(folder, filter="data")
    return folder


def _run(case: str, folder: Path, work: Path, capture: Callable[[], str]) -> Any:
    from cpoc_fhir.cli import main

    argv = CASES[case](folder, work)
    assert main(argv) == 0
    written = work / "value.json"
    text = written.read_text(encoding="utf-8") if case.startswith("value") else capture()
    return json.loads(text)


def _golden(case: str) -> Any:
    with gzip.open(DATA / f"{case}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _practice(tmp_path_factory.mktemp("perf"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_is_the_one_before_tuning(
    case: str, practice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = _run(case, practice, tmp_path, lambda: capsys.readouterr().out)
    want = _golden(case)
    for key in ADDED_SINCE.get(case, ()):
        # added on purpose after the goldens were written (above): nobody is billed FFS here
        assert got.pop(key) == {"patients": 0, "replaced": "0.00", "drug": "0.00", "other": "0.00"}
    # The whole document, and its serialised form (key order, strings, numbers) too.
    assert got == want
    assert json.dumps(got, ensure_ascii=False) == json.dumps(want, ensure_ascii=False)


def _write() -> None:  # pragma: no cover - run by hand against the reference checkout
    import contextlib
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = _practice(Path(tmp))
        for case in CASES:
            work = Path(tmp) / case
            work.mkdir()
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                data = _run(case, folder, work, buffer.getvalue)
            with gzip.open(DATA / f"{case}.json.gz", "wt", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, sort_keys=False)
            print(f"wrote {case}.json.gz", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description="write the goldens from this checkout's code")
    parser.add_argument("--write", action="store_true", required=True)
    parser.parse_args()
    _write()
