"""``reports.render.report_text``: a report's result in its ``--format`` (the model-episodes,
eom-services, cpc-coordination and pbp commands share it)."""

from __future__ import annotations

import json
from typing import Any

from cpoc_fhir.reports.render import report_text

RESULT = {"rows": [["p1", "160.00"], ["p2", "a, b"]]}


def _rows(result: dict[str, Any]) -> list[list[str]]:
    return [["patient", "amount"], *result["rows"]]


def _table(result: dict[str, Any]) -> str:
    return "".join(f"{a} {b}\n" for a, b in result["rows"])


def test_json_is_indented_by_one_and_ends_with_a_newline() -> None:
    text = report_text(RESULT, "json", _rows, _table)
    assert text == json.dumps(RESULT, indent=1) + "\n"
    assert json.loads(text) == RESULT


def test_csv_quotes_a_cell_with_a_comma_and_ends_lines_with_newline_only() -> None:
    # Three rows: the header, p1, and p2 whose "a, b" cell is quoted.
    assert report_text(RESULT, "csv", _rows, _table) == ('patient,amount\np1,160.00\np2,"a, b"\n')


def test_any_other_format_is_the_table() -> None:
    assert report_text(RESULT, "table", _rows, _table) == "p1 160.00\np2 a, b\n"
