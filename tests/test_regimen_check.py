"""`cpoc regimens --check` (knowledge/regimen_check.py): each kind of finding and notice on a
small hand-built catalog, the exact text and JSON, the exit codes of the CLI."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.cli import main
from cpoc_fhir.knowledge.loader import read_regimen_catalog_data
from cpoc_fhir.knowledge.regimen_check import (
    FINDING,
    NOTICE,
    check_catalog,
    check_failed,
    check_json,
    check_text,
)
from cpoc_fhir.knowledge.regimens import RegimenCatalog


def _figure(percent: str, **extra: str) -> dict[str, Any]:
    cited = {"trial": "T-1", "arm": "A + B", "table": "Table 2", "number": "3/10 (30%)"}
    return {"percent": Decimal(percent), "source": "Doe 2020", **cited, **extra}


def _dose(drug: str) -> dict[str, Any]:
    return {"drug": drug, "route": "intravenous", "amount": 1, "unit": "mg", "text": drug}


def _small() -> dict[str, Any]:
    """Drugs a, b (code unconfirmed), c, supportive s; regimens ab, ab-s (ab + companion s),
    ac. One of each kind of item, by construction (see the expected text below)."""
    drug = {"role": "anticancer", "classes": ["x"], "route": "parenteral"}
    return {
        "version": "9.9",
        "drugs": [
            {**drug, "id": "a", "name": "alpha", "rxcui": "1"},
            {**drug, "id": "b", "name": "beta", "rxcui": "2", "rxcui_confirmed": False,
             "rxcui_note": "not in the CPIC table"},
            {**drug, "id": "c", "name": "gamma", "rxcui": "3"},
            {"id": "s", "name": "sigma", "rxcui": "9", "role": "supportive", "route": "oral"},
        ],
        "regimens": [
            # no dosing; qol an estimate; death all-cause
            {"id": "ab", "name": "AB", "drugs": ["a", "b"], "infusion_category": 3,
             "infusion_basis": "a 2 h + b 2 h → category 3", "cancers": ["lung"],
             "hospitalization": _figure("40"),
             "qol": _figure("60", source="Doe 2020 (estimate)"),
             "death": _figure("1.5", basis="all-cause")},
            # same anti-cancer set as ab, companion s; no infusion_basis
            {"id": "ab-s", "name": "AB + S", "drugs": ["a", "b"], "companions": ["s"],
             "infusion_category": 3, "cancers": ["lung"], "hospitalization": _figure("40"),
             "qol": _figure("40"), "death": _figure("0"),
             "dosing_source": "Doe 2020", "dosing": [_dose("a"), _dose("b")]},
            # hospitalization without trial and arm; ties with ab over {a, b, c}
            {"id": "ac", "name": "AC", "drugs": ["a", "c"], "infusion_category": 2,
             "infusion_basis": "a 2 h + c 30 min → category 2", "cancers": ["lung"],
             "hospitalization": _figure("25", trial="", arm=""), "qol": _figure("40"),
             "death": _figure("0"), "dosing_source": "Doe 2020",
             "dosing": [_dose("a"), _dose("c")]},
        ],
    }  # fmt: skip


# Written by hand from _small(): one line per item, drugs first, then regimens in order (their
# figures in Table 3 order, then dosing, then infusion basis), then shared sets, then ties.
# The kind column is as wide as the longest kind shown ("rxcui-unconfirmed", 17).
EXPECTED_TEXT = """\
Regimen catalog 9.9: 6 finding(s), 2 notice(s)

finding  rxcui-unconfirmed  drug 'b': RxNorm 2 not confirmed (not in the CPIC table)
finding  figure-estimate    regimen 'ab': qol 60%: an estimate
finding  figure-all-cause   regimen 'ab': death 1.5%: all-cause
finding  no-dosing          regimen 'ab': no dosing
finding  no-infusion-basis  regimen 'ab-s': Table 4 category 3 without infusion_basis
finding  figure-citation    regimen 'ac': hospitalization: no trial, arm
notice   same-drug-set      drugs a + b: ab (companions: none); ab-s (companions: s)
notice   cover-tie          drugs a + b + c: ab and ab-s and ac tie at 2 drugs; ab wins (listed first)
"""  # noqa: E501 (the cover-tie line is as the CLI prints it)


def test_check_text_lists_each_kind_on_a_small_catalog() -> None:
    catalog = RegimenCatalog.from_data(_small())
    items = check_catalog(catalog)
    text = check_text(catalog, items, width=None)
    assert text == EXPECTED_TEXT
    assert check_failed(items)


def test_check_json_carries_the_same_items() -> None:
    catalog = RegimenCatalog.from_data(_small())
    data = check_json(catalog, check_catalog(catalog))
    assert (data["version"], data["findings"], data["notices"]) == ("9.9", 6, 2)
    assert [i["kind"] for i in data["items"]] == [
        "rxcui-unconfirmed", "figure-estimate", "figure-all-cause", "no-dosing",
        "no-infusion-basis", "figure-citation", "same-drug-set", "cover-tie",
    ]  # fmt: skip
    assert data["items"][0] == {
        "level": FINDING,
        "kind": "rxcui-unconfirmed",
        "subject": "drug 'b'",
        "detail": "RxNorm 2 not confirmed (not in the CPIC table)",
    }
    assert data["items"][-1]["level"] == NOTICE
    json.dumps(data)


def test_notices_alone_pass_the_check() -> None:
    data = _small()
    data["drugs"][1]["rxcui_confirmed"] = True
    ab = data["regimens"][0]
    ab["qol"], ab["death"] = _figure("60"), _figure("1.5")
    ab["dosing_source"], ab["dosing"] = "Doe 2020", [_dose("a"), _dose("b")]
    data["regimens"][1]["infusion_basis"] = "a + b → category 3"
    data["regimens"][2]["hospitalization"] = _figure("25")
    catalog = RegimenCatalog.from_data(data)
    items = check_catalog(catalog)
    assert [i.level for i in items] == [NOTICE, NOTICE]
    assert not check_failed(items)
    assert check_text(catalog, items).startswith("Regimen catalog 9.9: 0 finding(s), 2 notice(s)")


def test_a_larger_regimen_inside_the_union_is_no_tie() -> None:
    data = _small()
    abc = copy.deepcopy(data["regimens"][2])
    abc.update(id="abc", name="ABC", drugs=["a", "b", "c"])
    abc["dosing"] = [_dose("a"), _dose("b"), _dose("c")]
    data["regimens"].append(abc)
    kinds = [i.kind for i in check_catalog(RegimenCatalog.from_data(data))]
    assert "cover-tie" not in kinds


@settings(max_examples=60, deadline=None)
@given(
    estimate=st.booleans(),
    all_cause=st.booleans(),
    missing=st.sets(st.sampled_from(["trial", "arm", "table", "number"])),
)
def test_each_figure_rule_adds_exactly_its_finding(
    estimate: bool, all_cause: bool, missing: set[str]
) -> None:
    """Invariant: a figure's findings are exactly the rules it breaks, whatever the mix."""
    data = _small()
    extra: dict[str, str] = dict.fromkeys(missing, "")
    if estimate:
        extra["source"] = "Doe 2020 — per-event table (estimated)"
    if all_cause:
        extra["basis"] = "all-cause"
    data["regimens"][2]["qol"] = _figure("40", **extra)
    catalog = RegimenCatalog.from_data(data)
    about_qol = [
        i.kind
        for i in check_catalog(catalog)
        if i.subject == "regimen 'ac'" and i.detail.startswith("qol")
    ]
    expected = (
        (["figure-citation"] if missing else [])
        + (["figure-estimate"] if estimate else [])
        + (["figure-all-cause"] if all_cause else [])
    )
    assert about_qol == expected


# ---- the shipped catalog and the CLI ------------------------------------------------------


def test_shipped_catalog_check_exits_1_and_lists_estimates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["regimens", "--check", "--wide"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Regimen catalog 1.2.0: ")
    # Figures the catalog marks as estimates, and codes it could not confirm, are listed.
    assert "finding  figure-estimate" in out
    assert "regimen 'cisplatin-pemetrexed': hospitalization 38%: an estimate" in out
    assert "drug 'panitumumab': RxNorm 263034 not confirmed" in out
    # Variants by companions are listed, not failed; FOLFIRINOX's cover ties are listed.
    assert "folfirinox wins (listed first)" in out


def test_shipped_catalog_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regimens", "--check", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == "1.2.0"
    assert data["findings"] == sum(i["level"] == "finding" for i in data["items"]) > 0
    catalog = RegimenCatalog.from_data(read_regimen_catalog_data())
    unconfirmed = {d.id for d in catalog.drugs.values() if not d.rxcui_confirmed}
    listed = {i["subject"][6:-1] for i in data["items"] if i["kind"] == "rxcui-unconfirmed"}
    assert listed == unconfirmed
    assert {"panitumumab", "ramucirumab", "granisetron", "denosumab"} <= listed
    assert "cetuximab" not in listed  # confirmed against the CPIC drug table
