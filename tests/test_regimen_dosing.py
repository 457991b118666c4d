"""Regimen dosing: the parser's checks and the shipped catalog's doses (care-pathway orders)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.knowledge.loader import read_regimen_catalog_data
from cpoc_fhir.knowledge.regimens import DOSE_ROUTES, Dose, Regimen, RegimenCatalog


@pytest.fixture(scope="module")
def catalog() -> RegimenCatalog:
    return RegimenCatalog.from_data(read_regimen_catalog_data())


# ---- the parser --------------------------------------------------------------------------


def _small() -> dict[str, Any]:
    """A parenteral drug, an oral drug and a steroid companion, dosed in one regimen."""
    figure = {"percent": Decimal("10"), "source": "Doe J, J Test 2020;1:1"}
    return {
        "version": "test",
        "drugs": [
            {"id": "a", "name": "alpha", "rxcui": "1", "role": "anticancer",
             "classes": ["x"], "route": "parenteral", "single_agent_category": 2},
            {"id": "b", "name": "beta", "rxcui": "2", "role": "anticancer",
             "classes": ["y"], "route": "oral"},
            {"id": "s", "name": "steroid", "rxcui": "3", "role": "supportive",
             "classes": ["corticosteroid"], "route": "oral"},
            {"id": "z", "name": "zeta", "rxcui": "4", "role": "anticancer",
             "classes": ["z"], "route": "oral"},
        ],
        "regimens": [
            {"id": "ab", "name": "AB", "drugs": ["a", "b"], "companions": ["s"],
             "infusion_category": 3, "oral_pattern": "single-on-off", "cancers": ["lung"],
             "sources": ["Doe"], "hospitalization": dict(figure), "qol": dict(figure),
             "death": dict(figure),
             "dosing_source": "Doe J, J Test 2020;1:1",
             "dosing": [
                 {"drug": "a", "amount": 85, "unit": "mg/m2", "route": "intravenous",
                  "days": [1], "cycle_days": 14, "minutes": 120,
                  "text": "Alpha 85 mg/m2 IV over 2 h on day 1, every 14 days"},
                 {"drug": "a", "dose_text": "AUC 5", "route": "intravenous", "days": [8],
                  "cycle_days": 14, "text": "Alpha AUC 5 IV on day 8"},
                 {"drug": "b", "amount": Decimal("2.5"), "unit": "mg", "route": "oral",
                  "days_range": [1, 7], "cycle_days": 14, "times_per_day": 2,
                  "text": "Beta 2.5 mg by mouth twice daily on days 1-7"},
                 {"drug": "s", "amount": 5, "unit": "mg", "route": "oral",
                  "text": "Steroid 5 mg by mouth once daily, continuously"},
             ]},
        ],
    }  # fmt: skip


def _load(data: dict[str, Any]) -> Regimen:
    regimen = RegimenCatalog.from_data(data).regimen("ab")
    assert regimen is not None
    return regimen


def test_valid_dosing_is_parsed_into_doses() -> None:
    regimen = _load(_small())
    assert regimen.dosing_source == "Doe J, J Test 2020;1:1"
    a, auc, b, s = regimen.dosing
    assert a == Dose(
        drug="a", route="intravenous", text="Alpha 85 mg/m2 IV over 2 h on day 1, every 14 days",
        amount=Decimal(85), unit="mg/m2", days=(1,), cycle_days=14, minutes=120,
    )  # fmt: skip
    assert (auc.amount, auc.unit, auc.dose_text) == (None, None, "AUC 5")
    assert b.days == (1, 2, 3, 4, 5, 6, 7)  # days_range expanded
    assert (b.amount, b.times_per_day, b.minutes) == (Decimal("2.5"), 2, None)
    assert (s.days, s.cycle_days, s.times_per_day) == ((), None, 1)  # continuous daily


def test_a_float_amount_becomes_an_exact_decimal() -> None:
    data = _small()
    data["regimens"][0]["dosing"][2]["amount"] = 2.5
    assert _load(data).dosing[2].amount == Decimal("2.5")


def test_dosing_may_be_absent_in_a_practice_catalog() -> None:
    data = _small()
    del data["regimens"][0]["dosing"], data["regimens"][0]["dosing_source"]
    regimen = _load(data)
    assert (regimen.dosing, regimen.dosing_source) == ((), "")


def test_existing_constructors_still_work_without_dosing(catalog: RegimenCatalog) -> None:
    folfox = catalog.regimen("folfox")
    assert folfox is not None
    bare = Regimen(
        id="x", name="X", drugs=("oxaliplatin",), classes=("platinum",),
        hospitalization=folfox.hospitalization, qol=folfox.qol, death=folfox.death,
        infusion_category=2, oral_pattern=None,
    )  # fmt: skip
    assert (bare.dosing, bare.dosing_source) == ((), "")


_DELETE = object()


def _dose(index: int, **changes: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        dose = data["regimens"][0]["dosing"][index]
        for key, value in changes.items():
            if value is _DELETE:
                dose.pop(key, None)
            else:
                dose[key] = value

    return change


def _regimen(**changes: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is _DELETE:
                data["regimens"][0].pop(key, None)
            else:
                data["regimens"][0][key] = value

    return change


def _drop_doses_of(drug: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        regimen = data["regimens"][0]
        regimen["dosing"] = [d for d in regimen["dosing"] if d["drug"] != drug]

    return change


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (_dose(0, drug="ghost"), ["'dosing[0].drug'", "unknown drug 'ghost'"]),
        (_dose(0, drug="z"), ["'dosing[0].drug'", "'z'", "not one of the regimen's drugs"]),
        (_dose(0, unit=_DELETE), ["'dosing[0].unit'", "missing"]),
        (_dose(0, unit=""), ["'dosing[0].unit'", "missing"]),
        (_dose(0, unit="mg/m²"), ["'dosing[0].unit'", "not a UCUM unit"]),
        (_dose(3, unit="mcg"), ["'dosing[3].unit'", "'ug'"]),
        (_dose(0, amount=_DELETE), ["'dosing[0].amount'", "amount (with unit) or dose_text"]),
        (_dose(1, amount=5), ["'dosing[1].amount'", "not both"]),
        (_dose(1, unit="mg"), ["'dosing[1].unit'", "dose_text"]),
        (_dose(1, dose_text=" "), ["'dosing[1].dose_text'", "empty"]),
        (_dose(0, amount=0), ["'dosing[0].amount'", "not above 0"]),
        (_dose(0, amount="85"), ["'dosing[0].amount'", "not a number"]),
        (_dose(0, amount=True), ["'dosing[0].amount'", "not a number"]),
        (_dose(0, days=[15]), ["'dosing[0].days'", "day 15 is beyond cycle_days 14"]),
        (_dose(2, days_range=[1, 15]), ["'dosing[2].days'", "beyond cycle_days 14"]),
        (_dose(0, days=[0]), ["'dosing[0].days'", "0"]),
        (_dose(0, days=[8, 1]), ["'dosing[0].days'", "in order"]),
        (_dose(0, days=[1, 1]), ["'dosing[0].days'", "each once"]),
        (_dose(0, days="1"), ["'dosing[0].days'", "list"]),
        (_dose(2, days=[1]), ["'dosing[2].days'", "not both"]),
        (_dose(2, days_range=[7, 1]), ["'dosing[2].days_range'", "before"]),
        (_dose(2, days_range=[1]), ["'dosing[2].days_range'", "[first, last]"]),
        (_dose(0, days=_DELETE), ["'dosing[0].days'", "needed with cycle_days"]),
        (_dose(0, cycle_days=_DELETE), ["'dosing[0].cycle_days'", "needed with days"]),
        (_dose(0, cycle_days=0), ["'dosing[0].cycle_days'", "0"]),
        (_dose(0, route="iv"), ["'dosing[0].route'", "'iv'", "intravenous"]),
        (_dose(0, route=_DELETE), ["'dosing[0].route'", "None"]),
        (_dose(0, route="oral", minutes=_DELETE), ["'dosing[0].route'", "parenteral"]),
        (_dose(2, route="intravenous"), ["'dosing[2].route'", "oral"]),
        (_dose(2, minutes=30), ["'dosing[2].minutes'", "not for an oral dose"]),
        (_dose(0, minutes=0), ["'dosing[0].minutes'", "0"]),
        (_dose(2, times_per_day=0), ["'dosing[2].times_per_day'", "0"]),
        (_dose(0, text=_DELETE), ["'dosing[0].text'", "missing"]),
        (_dose(0, text="  "), ["'dosing[0].text'", "missing"]),
        (_dose(0, cycle_day=14), ["'dosing[0].cycle_day'", "unknown key"]),
        (_drop_doses_of("b"), ["'dosing'", "no dose for defining drug 'b'"]),
        (_regimen(dosing_source=_DELETE), ["'dosing_source'", "source"]),
        (_regimen(dosing_source=" "), ["'dosing_source'", "source"]),
        (_regimen(dosing=_DELETE), ["'dosing'", "no dosing"]),
        (_regimen(dosing={"drug": "a"}), ["'dosing'", "list"]),
        (_regimen(dosing=["a 85 mg/m2"]), ["'dosing[0]'", "table"]),
    ],
)
def test_bad_dosing_raises_knowledge_error_naming_regimen_and_field(
    change: Any, names: list[str]
) -> None:
    data = copy.deepcopy(_small())
    change(data)
    with pytest.raises(KnowledgeError) as raised:
        RegimenCatalog.from_data(data)
    message = str(raised.value)
    assert "regimen 'ab'" in message
    for name in names:
        assert name in message, message


def test_a_companion_without_a_dose_is_allowed_by_the_parser() -> None:
    data = _small()
    _drop_doses_of("s")(data)
    assert {d.drug for d in _load(data).dosing} == {"a", "b"}


# ---- the shipped catalog -----------------------------------------------------------------


def test_every_shipped_regimen_has_dosing_covering_its_drugs_and_companions(
    catalog: RegimenCatalog,
) -> None:
    for regimen in catalog.regimens.values():
        assert regimen.dosing, regimen.id
        assert regimen.dosing_source.strip(), regimen.id
        dosed = {d.drug for d in regimen.dosing}
        per_cancer = {d for drugs in regimen.cancer_companions.values() for d in drugs}
        assert dosed == {*regimen.drugs, *regimen.companions, *per_cancer}, regimen.id


def test_shipped_doses_are_complete_order_data(catalog: RegimenCatalog) -> None:
    for regimen in catalog.regimens.values():
        for dose in regimen.dosing:
            where = f"{regimen.id}: {dose.text}"
            assert dose.route in DOSE_ROUTES, where
            assert (dose.amount is None) != (dose.dose_text is None), where
            if dose.amount is not None:
                assert dose.amount > 0 and dose.unit, where
            if dose.cycle_days is None:
                assert dose.days == (), where
            else:
                assert dose.days and dose.days[-1] <= dose.cycle_days, where
            # The text says what the structured fields say: the drug and the dose.
            drug_name = catalog.drugs[dose.drug].name.lower()
            assert drug_name.split()[0] in dose.text.lower(), where
            said = dose.dose_text or f"{dose.amount} {dose.unit}"
            assert said in dose.text, where


def test_the_dose_route_agrees_with_the_table_4_route(catalog: RegimenCatalog) -> None:
    """Oral drugs are dosed by mouth and infused/injected ones parenterally (Table 4's D)."""
    for regimen in catalog.regimens.values():
        for dose in regimen.dosing:
            if dose.drug in regimen.drugs:
                oral = catalog.drugs[dose.drug].route.value == "oral"
                assert (dose.route == "oral") is oral, (regimen.id, dose.drug)


@pytest.mark.parametrize(
    ("regimen_id", "drug", "amount", "unit", "days", "cycle", "per_day"),
    [
        ("folfox", "oxaliplatin", "85", "mg/m2", (1,), 14, 1),
        ("capox", "capecitabine", "1000", "mg/m2", tuple(range(1, 15)), 21, 2),
        ("letrozole", "letrozole", "2.5", "mg", (), None, 1),
        ("leuprolide", "leuprolide", "22.5", "mg", (1,), 84, 1),
        ("letrozole-palbociclib", "palbociclib", "125", "mg", tuple(range(1, 22)), 28, 1),
        ("fulvestrant", "fulvestrant", "500", "mg", (1,), 28, 1),
        ("alectinib", "alectinib", "600", "mg", (), None, 2),
        ("lorlatinib", "lorlatinib", "100", "mg", (), None, 1),
        ("brigatinib", "brigatinib", "180", "mg", (), None, 1),
        ("enzalutamide", "enzalutamide", "160", "mg", (), None, 1),
        ("apalutamide", "apalutamide", "240", "mg", (), None, 1),
        ("cabazitaxel", "cabazitaxel", "20", "mg/m2", (1,), 21, 1),
        ("cabazitaxel", "prednisone", "10", "mg", (), None, 1),
        ("pola-r-chp", "polatuzumab-vedotin", "1.8", "mg/kg", (1,), 21, 1),
        ("pola-r-chp", "prednisone", "100", "mg", (1, 2, 3, 4, 5), 21, 1),
        ("paclitaxel-trastuzumab", "paclitaxel", "80", "mg/m2", (1,), 7, 1),
        ("vrd", "bortezomib", "1.3", "mg/m2", (1, 4, 8, 11), 21, 1),
        ("capox-bevacizumab", "bevacizumab", "7.5", "mg/kg", (1,), 21, 1),
        ("folfox-bevacizumab", "bevacizumab", "5", "mg/kg", (1,), 14, 1),
    ],
)
def test_standard_doses(
    catalog: RegimenCatalog,
    regimen_id: str,
    drug: str,
    amount: str,
    unit: str,
    days: tuple[int, ...],
    cycle: int | None,
    per_day: int,
) -> None:
    regimen = catalog.regimen(regimen_id)
    assert regimen is not None
    [dose] = [d for d in regimen.dosing if d.drug == drug]
    assert (dose.amount, dose.unit, dose.days, dose.cycle_days, dose.times_per_day) == (
        Decimal(amount),
        unit,
        days,
        cycle,
        per_day,
    )


def test_carboplatin_is_dosed_by_auc(catalog: RegimenCatalog) -> None:
    for regimen in catalog.regimens.values():
        for dose in regimen.dosing:
            if dose.drug == "carboplatin":
                assert dose.amount is None and (dose.dose_text or "").startswith("AUC "), regimen.id


def test_fluorouracil_bolus_and_46_hour_infusion_in_mfolfox6(catalog: RegimenCatalog) -> None:
    folfox = catalog.regimen("folfox-bevacizumab")
    assert folfox is not None
    fu = [(d.amount, d.minutes) for d in folfox.dosing if d.drug == "fluorouracil"]
    assert fu == [(Decimal(400), None), (Decimal(2400), 46 * 60)]


# ---- the regimens added for care pathways ------------------------------------------------

NEW = {
    "folfox-bevacizumab": {"oxaliplatin", "leucovorin", "fluorouracil", "bevacizumab"},
    "capox-bevacizumab": {"oxaliplatin", "capecitabine", "bevacizumab"},
    "folfiri-bevacizumab": {"irinotecan", "leucovorin", "fluorouracil", "bevacizumab"},
    "alectinib": {"alectinib"},
    "lorlatinib": {"lorlatinib"},
    "brigatinib": {"brigatinib"},
    "tchp": {"docetaxel", "carboplatin", "trastuzumab", "pertuzumab"},
    "paclitaxel-trastuzumab": {"paclitaxel", "trastuzumab"},
    "letrozole-palbociclib": {"letrozole", "palbociclib"},
    "fulvestrant-palbociclib": {"fulvestrant", "palbociclib"},
    "fulvestrant": {"fulvestrant"},
    "enzalutamide": {"enzalutamide"},
    "apalutamide": {"apalutamide"},
    "cabazitaxel": {"cabazitaxel", "prednisone"},
    "pola-r-chp": {"polatuzumab-vedotin", "rituximab", "cyclophosphamide", "doxorubicin"},
}


@pytest.mark.parametrize("regimen_id", sorted(NEW))
def test_new_regimen_exists_and_matches_its_drug_set(
    catalog: RegimenCatalog, regimen_id: str
) -> None:
    regimen = catalog.regimen(regimen_id)
    assert regimen is not None
    match = catalog.match(NEW[regimen_id])
    assert [r.id for r in match.regimens] == [regimen_id]
    assert (match.unmatched, match.warnings) == (frozenset(), ())
    for figure in (regimen.hospitalization, regimen.qol, regimen.death):
        assert figure.source.strip()
        # The honesty convention: a figure says what it was read from (1.2.0: `number`, the
        # one method of cpoc-rules §5) or, in older wording, how it was made.
        wording = ("approximation", "estimate", "derived", "%")
        assert figure.number or any(w in figure.source for w in wording), (regimen_id, figure)


def test_folfox_with_bevacizumab_is_now_one_regimen(catalog: RegimenCatalog) -> None:
    match = catalog.match({"oxaliplatin", "leucovorin", "fluorouracil", "bevacizumab"})
    assert [r.id for r in match.regimens] == ["folfox-bevacizumab"]
    assert catalog.match({"oxaliplatin", "leucovorin", "fluorouracil"}).regimens[0].id == "folfox"


@pytest.mark.parametrize(
    ("drug", "rxcui", "route", "category", "brand"),
    [
        ("palbociclib", "1601374", "oral", None, "ibrance"),
        ("fulvestrant", "282357", "parenteral", 0, "faslodex"),
        ("enzalutamide", "1307298", "oral", None, "xtandi"),
        ("apalutamide", "1999574", "oral", None, "erleada"),
        ("cabazitaxel", "996051", "parenteral", 2, "jevtana"),
        ("polatuzumab-vedotin", "2180800", "parenteral", 2, "polivy"),
    ],
)
def test_new_drugs_resolve_by_code_and_brand(
    catalog: RegimenCatalog, drug: str, rxcui: str, route: str, category: int | None, brand: str
) -> None:
    found = catalog.drugs[drug]
    assert (found.rxcui, found.route.value, found.single_agent_category) == (rxcui, route, category)
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert catalog.resolve([(rxnorm, rxcui, None)], None).drug is found
    assert catalog.resolve([], f"{brand.title()} 100 mg").drug is found
