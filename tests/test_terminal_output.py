"""Terminal output (issue 17 item 6): the timeline table fits 80 columns by default and
``--wide`` keeps every column; explanations are wrapped without breaking a reference; the
progress bar is on stderr with its total, and off when stderr is not a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date

import pytest
from timeline_builders import LONG_REF, timeline, treatment_line

from cpoc_fhir.cli import main
from cpoc_fhir.engine.lines import ModelSpan
from cpoc_fhir.progress import progress, shown
from cpoc_fhir.render import timeline_table
from cpoc_fhir.terminal import WIDTH, fit_table, wrapped, wrapped_query


def _fits(text: str, width: int = WIDTH) -> None:
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert too_long == []


def test_default_table_fits_80_columns_and_keeps_every_figure() -> None:
    spans = (ModelSpan("ocm", date(2025, 1, 1), None, "Coverage/c1: payer Organization/cms " * 3),)
    text = timeline_table(timeline(models=spans), explain=True)
    _fits(text)
    lines = text.splitlines()
    header = next(line for line in lines if "month" in line and "status" in line)
    assert " to " not in header and "score" not in header  # elided: last day, own line
    # the score is on the line under its row: "0+0+4+6=10 folfox" (comorbidity 0, ECOG 0,
    # toxicity 4, administration 6 → total 10, treatment_line's Score)
    row = next(i for i, line in enumerate(lines) if "xx204" in line)
    assert "800.00" in lines[row] and lines[row + 1].strip() == "score 0+0+4+6=10 folfox"
    # references by type, each id whole under its type (a 64-character id fits: 13 + 64)
    kind, ident = LONG_REF.split("/")
    at = lines.index(f"{'':11}{kind}/")
    assert lines[at + 1] == f"{'':13}{ident}"
    assert f"{'':11}Condition/c1" in lines and f"{'':11}Observation/o1" in lines
    # wrapped prose: every word of the explanation is still there, in order
    explanation = treatment_line().explanation[0]
    dotted = [i for i, line in enumerate(lines) if line.startswith(" " * 9 + "· ")]
    joined = " ".join(lines[dotted[-1] : dotted[-1] + 3]).split()
    assert joined[1 : len(explanation.split()) + 1] == explanation.split()
    # totals: provisional 1000.00 (New Patient) and final 800.00 (the Treatment Month)
    assert "final 1 line(s) 800.00" in text and "provisional 1 line(s) 1000.00" in text


def test_wide_table_has_every_column_on_one_line() -> None:
    text = timeline_table(timeline(), explain=False, width=None)
    header = next(line for line in text.splitlines() if "status" in line)
    assert header.split() == [
        *("month", "from", "to", "code", "component", "lvl", "status", "amount", "score")
    ]
    assert "2025-03-03  2025-04-02  xx204" in text and "0+0+4+6=10 folfox" in text
    assert max(len(line) for line in text.splitlines()) > WIDTH  # the warning, unwrapped


def test_long_code_drops_the_component_column_to_fit() -> None:
    text = timeline_table(timeline(treatment_line(code="CPCP-T1-2-LONGER", model="cpcplus")))
    _fits(text)
    assert "component" not in text and "CPCP-T1-2-LONGER" in text


def test_wrapped_keeps_a_long_word_whole() -> None:
    assert wrapped(f"see {LONG_REF} now", 40, "  ") == ["  see", f"  {LONG_REF}", "  now"]
    assert wrapped("x " * 50, None, "> ") == ["> " + "x " * 50]


def test_a_search_is_cut_only_between_its_parameters() -> None:
    search = "Observation?subject=Patient/p&code=http://loinc.org|89247-1,http://loinc.org|1-8"
    lines = wrapped_query(search, 40, "  ", "    ")
    assert lines == [
        "  Observation?subject=Patient/p&",
        "    code=http://loinc.org|89247-1,",
        "    http://loinc.org|1-8",
    ]
    assert "".join(line.strip() for line in lines) == search


def test_cli_timeline_explain_fits_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timeline", "--as-of", "2025-12-15", "--explain", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") > 300  # the bundled patients' explanations
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert main(["timeline", "--as-of", "2025-12-15", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert max(len(line) for line in wide.splitlines()) > WIDTH


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_total_and_eta_on_a_terminal_only() -> None:
    tty = _Tty()
    with progress(3, "patient", stream=tty) as bar:
        for _ in range(3):
            bar.update(1)
    drawn = tty.getvalue()
    # the total from the first drawing on, and tqdm's "elapsed<ETA"
    assert "0/3" in drawn and "patient" in drawn and "00:00<" in drawn
    pipe = io.StringIO()
    with progress(3, "patient", stream=pipe) as bar:
        bar.update(3)
    assert pipe.getvalue() == ""
    assert shown(_Tty()) and not shown(_Tty(), quiet=True) and not shown(io.StringIO())


HEAVY = ("sqlalchemy", "alembic", "fhir.resources", "vl_convert", "requests", "jinja2", "flask")


@pytest.mark.parametrize(
    "argv",
    [
        ["timeline", "--help"],
        ["capture", "--help"],
        ["report", "--help"],
        ["report", "pbp", "--help"],
        ["model", "--help"],
        ["pathways", "--help"],
        ["regimens", "--help"],
    ],
)
def test_subcommand_help_imports_no_heavy_module(argv: list[str]) -> None:
    """A subcommand's --help builds its parser without the libraries its run needs: which
    modules load is what decides the time (issue 17 item 6), not a timing."""
    code = (
        "import sys\n"
        "from cpoc_fhir.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "usage: cpoc" in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr


def test_the_full_parser_loads_no_record_reader_or_engine_data() -> None:
    """Every command's ``--help`` builds the whole parser: none of its modules may load the
    record reader, the value models or the knowledge files (payer_cli's parse-time import of
    value.model once loaded all three: 241 modules and 0.18 s of CPU before any help, 180
    and 0.085 s without, measured with time.process_time around build_parser)."""
    code = (
        "import sys\n"
        "from cpoc_fhir.cli import build_parser\n"
        "build_parser()\n"
        "bad = ('cpoc_fhir.fhir.read', 'cpoc_fhir.value', 'cpoc_fhir.knowledge')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "LOADED []" in done.stdout, done.stdout + done.stderr


def test_light_parser_constants_match_their_sources() -> None:
    """The parser modules repeat constants so as not to import what a run needs: same values."""
    from cpoc_fhir.capture import catchup, cli_options, parallel
    from cpoc_fhir.fhir.bulk import cli_options as bulk_options
    from cpoc_fhir.fhir.bulk import export
    from cpoc_fhir.reports import cli as reports_cli
    from cpoc_fhir.store import DEFAULT_URL

    assert cli_options.DEFAULT_STORE == DEFAULT_URL == reports_cli.DEFAULT_URL
    assert cli_options.DEFAULT_MAX_MONTHS == catchup.DEFAULT_MAX_MONTHS
    assert cli_options.MAX_WORKERS == parallel.MAX_WORKERS
    assert bulk_options.DEFAULT_TIMEOUT == export.DEFAULT_TIMEOUT


@pytest.mark.parametrize("argv", [["regimens"], ["regimens", "--check"], ["pathways", "list"]])
def test_other_tables_fit_80_columns_unless_wide(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(argv)
    narrow = capsys.readouterr().out
    assert narrow.count("\n") > 10 and max(len(line) for line in narrow.splitlines()) <= WIDTH
    main([*argv, "--wide"])
    wide = capsys.readouterr().out
    assert max(len(line) for line in wide.splitlines()) > WIDTH
    # the same words either way: wrapping moves them, never drops or cuts one (regimens'
    # narrow form names its columns in a header of its own)
    assert set(wide.split()) - set(narrow.split()) <= {"T", "TABLE", "CLASSES", "4"}


def test_fit_table_narrows_the_widest_column_and_keeps_the_id() -> None:
    rows = [("id", "title"), ("a-long-identifier", "word " * 20)]
    lines = fit_table(rows, 40)
    assert max(map(len, lines)) <= 40
    assert lines[1].startswith("a-long-identifier  word")
    assert lines[2].startswith(" " * 19 + "word")  # continuation under its column
    assert fit_table(rows, None)[1] == "a-long-identifier  " + ("word " * 20).rstrip()


def test_fit_lines_wraps_long_lines_under_their_indent_and_keeps_ids_whole() -> None:
    from cpoc_fhir.terminal import fit_lines

    long_id = "Patient/" + "x" * 90
    lines = ["short", "  " + "word " * 30, f"  see {long_id} now"]
    out = fit_lines(lines, 40)
    assert out[0] == "short"
    assert all(len(line) <= 40 for line in out if long_id not in line)
    assert [line for line in out if long_id in line] == [f"    {long_id}"]  # whole, own line
    assert " ".join(out).split() == " ".join(lines).split()  # nothing lost
    assert fit_lines(lines, None) == lines
