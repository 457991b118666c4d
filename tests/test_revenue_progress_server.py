"""``cpoc report revenue --fhir-base``'s progress bars (issue 17 item 6, fhir/search_bar.py):
one over the server's ChargeItem pages and one over its Coverage pages, their totals from the
searchset's ``Bundle.total`` (sekmet gives it), or a count and a rate when a server does not.
On a pipe, or with ``--no-progress``, stderr stays empty; stdout is the same bytes either way."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from revenue_builders import charge, practice_coverages, practice_items
from sekmet_server import SekmetServer, running_sekmet

from cds_hooks.embedded_fhir import load_resources
from cpoc_fhir.cli import main
from cpoc_fhir.fhir.client import FhirClient, matches
from cpoc_fhir.fhir.search_bar import bundle_total, counted_search

EXTRA = 240  # more than one page of 200 (revenue_reads.PAGE): the bar spans two pages


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    """practice_items() and practice_coverages() (revenue_builders' goldens) and EXTRA
    billable 10.00 lines of patient e (no Coverage) on 2025-03-05. The cancelled Coverage
    with ``order`` 0 is left out: a server refuses it (a positiveInt), and out of force it
    pays nothing."""
    extra = [charge(f"e{i}", "e", "2025-03-05", "xx204", "billable", "10.00") for i in range(EXTRA)]
    coverages = [c for c in practice_coverages() if c.get("order") != 0]
    with running_sekmet(tmp_path_factory.mktemp("revenue-bar")) as sekmet:
        load_resources(sekmet.base_url, practice_items() + coverages + extra)
        yield sekmet


def _run(argv: list[str], stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(argv) == 0, stderr.getvalue()
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_bars_over_the_servers_pages_on_a_terminal_only(
    fmt: str, server: SekmetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CPOC_FHIR_TOKEN", raising=False)
    argv = ["report", "revenue", "--fhir-base", server.base_url, "--from", "2025-03"]
    argv += ["--to", "2025-04", "--format", fmt]
    tty = _Tty()
    on_tty = _run(argv, tty, monkeypatch)
    # tqdm's first draw of each bar: "0/<Bundle.total>" with the resource type as the unit.
    # 8 practice items + EXTRA; 5 Coverages (the 2 Organizations are not a bar: a chunked read).
    assert f"0/{8 + EXTRA}" in tty.getvalue() and "ChargeItem/s" in tty.getvalue()
    assert "0/5" in tty.getvalue() and "Coverage/s" in tty.getvalue()
    pipe = io.StringIO()
    on_pipe = _run(argv, pipe, monkeypatch)
    assert pipe.getvalue() == ""
    quiet = _Tty()
    on_quiet = _run([*argv, "--no-progress"], quiet, monkeypatch)
    assert quiet.getvalue() == ""
    assert on_tty.encode() == on_pipe.encode() == on_quiet.encode()
    if fmt == "json":
        data: dict[str, Any] = json.loads(on_tty)
        # Both pages were read: test_revenue_report's March-April 2900.00 (c1 800 + c2 600 +
        # c3 1000 + c7 70 + c8 430) plus EXTRA × 10.00 of patient e, who has no Coverage; the
        # payers as test_cli_payer_filter_and_column's (Medicare 1600, No coverage c8 430 …)
        # with e's lines in "No coverage": the Coverages were read from the server.
        assert data["revenue"] == f"{2900 + 10 * EXTRA:.2f}"
        assert data["payers"]["Medicare Part B"] == "1600.00"
        assert data["payers"]["No coverage"] == f"{430 + 10 * EXTRA:.2f}"


BASE = "http://fhir.test/r4"


@responses.activate
def test_a_server_without_bundle_total_gets_a_bar_with_a_count_and_no_total() -> None:
    # Two pages without "total" (optional in R4): the bar counts, and what is read is the
    # search's own matches (an included Organization is not one).
    first = {
        "resourceType": "Bundle", "type": "searchset",
        "link": [{"relation": "next", "url": f"{BASE}/ChargeItem?page=2"}],
        "entry": [{"resource": charge("c1", "a", "2025-03-03", "xx204", "billable", "1.00")},
                  {"resource": {"resourceType": "Organization", "id": "o"},
                   "search": {"mode": "include"}}],
    }  # fmt: skip
    c2 = charge("c2", "a", "2025-03-04", "xx204", "billable", "2.00")
    second = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": c2}]}
    page = responses.matchers.query_param_matcher
    responses.get(f"{BASE}/ChargeItem", json=second, match=[page({"page": "2"})])
    responses.get(f"{BASE}/ChargeItem", json=first, match=[page({"_count": "200"})])
    tty = _Tty()
    with FhirClient(BASE, max_retries=0) as client:
        found = list(counted_search(client, "ChargeItem", {"_count": "200"}, stream=tty))
        plain = list(client.search("ChargeItem", {"_count": "200"}))
    assert [r["id"] for r in found] == [r["id"] for r in plain] == ["c1", "c2"]
    assert "0ChargeItem [" in tty.getvalue() and "0/" not in tty.getvalue()


def test_bundle_total_is_a_count_or_none() -> None:
    assert bundle_total({"total": 0}) == 0 and bundle_total({"total": 12}) == 12
    for bad in ({}, {"total": -1}, {"total": True}, {"total": "12"}, {"total": 1.5}):
        assert bundle_total(bad) is None


class _Pages:
    """A client whose search is a fixed list of pages (search_bundles and search agree, as
    FhirClient's do: search is the matches of search_bundles)."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def search_bundles(self, _type: str, _params: Any = None) -> Iterator[dict[str, Any]]:
        yield from self.pages

    def search(self, _type: str, _params: Any = None) -> Iterator[dict[str, Any]]:
        for page in self.pages:
            yield from matches(page)


_entry = st.builds(
    lambda i, mode: {"resource": {"resourceType": "ChargeItem", "id": f"c{i}"},
                     **({"search": {"mode": mode}} if mode else {})},
    st.integers(0, 999), st.sampled_from([None, "match", "include", "outcome"]),
)  # fmt: skip
_page = st.builds(
    lambda entries, total: {"resourceType": "Bundle", "entry": entries,
                            **({} if total is None else {"total": total})},
    st.lists(_entry, max_size=6), st.one_of(st.none(), st.integers(-2, 40)),
)  # fmt: skip


@given(st.lists(_page, min_size=1, max_size=4), st.booleans())
def test_the_bar_never_changes_what_is_read(pages: list[dict[str, Any]], tty: bool) -> None:
    # Invariant: with the bar drawn or not, the resources are client.search's, in its order.
    client: Any = _Pages(pages)
    stream = _Tty() if tty else io.StringIO()
    assert list(counted_search(client, "ChargeItem", stream=stream)) == list(
        client.search("ChargeItem")
    )
    assert (stream.getvalue() != "") == tty
