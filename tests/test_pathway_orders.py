"""Suggestion orders: cycle days and counts in R4 Timing, per-cancer and per-setting doses,
and the supportive orders (antiemetics, premedication, vitamins, G-CSF) — every expected order
derived by hand from the catalog's doses and knowledge/data/supportive-care.toml."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.knowledge.loader import load_knowledge, read_regimen_catalog_data
from cpoc_fhir.knowledge.regimens import Dose, Regimen, RegimenCatalog
from cpoc_fhir.knowledge.supportive import load_supportive_care
from cpoc_fhir.pathways.orders import (
    DAYS_OF_CYCLE,
    OrderFrame,
    SuggestedOrders,
    regimen_doses,
    regimen_orders,
)

Resource = dict[str, Any]
FRAME = OrderFrame("p1", date(2025, 11, 10), ("https://example.org/PlanDefinition/x|1",), "n")


def catalog() -> RegimenCatalog:
    return load_knowledge().regimens


def regimen(regimen_id: str) -> Regimen:
    found = catalog().regimen(regimen_id)
    assert found is not None, regimen_id
    return found


def orders(regimen_id: str, cancer: str, setting: str = "") -> SuggestedOrders:
    made = regimen_orders(
        regimen(regimen_id), catalog(), FRAME, cancer, setting, load_supportive_care()
    )
    for order in made.all:
        MedicationRequest.model_validate(order)  # R4 (R4B models), never R5
    return made


def drug(order: Resource) -> str:
    return str(order["medicationCodeableConcept"]["text"])


def repeat(order: Resource) -> Resource:
    return dict(order["dosageInstruction"][0]["timing"]["repeat"])


def cycle_days(order: Resource) -> list[int]:
    timing = order["dosageInstruction"][0]["timing"]
    ext = [e for e in timing.get("extension", []) if e["url"] == DAYS_OF_CYCLE]
    return [d["valueInteger"] for e in ext for d in e["extension"]]


def dose(order: Resource) -> tuple[float, str]:
    quantity = order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    return quantity["value"], quantity["unit"]


def summary(orders: tuple[Resource, ...]) -> list[tuple[str, float, str, list[int]]]:
    """(drug, amount, unit, cycle days) of each order, in order."""
    return [(drug(o), *dose(o), cycle_days(o)) for o in orders]


# ---- timing: cycle days and cycle counts ----------------------------------------------------


def test_days_1_8_15_of_28_are_three_orders_each_every_28_days() -> None:
    # Gemcitabine 1000 mg/m2 on days 1, 8 and 15 of a 28-day cycle (catalog "gemcitabine"):
    # one order per day offset, each once every 28 days; never 3 or 4 consecutive days.
    made = orders("gemcitabine", "pancreas")
    gem = [o for o in made.anticancer if drug(o) == "gemcitabine"]
    assert [cycle_days(o) for o in gem] == [[1], [8], [15]]
    for order in gem:
        assert repeat(order) == {
            "frequency": 1,
            "period": 28,
            "periodUnit": "d",
            "duration": 30,
            "durationUnit": "min",
        }
        assert "boundsDuration" not in repeat(order)
    texts = [o["dosageInstruction"][0]["text"] for o in gem]
    assert texts[1].endswith("[this order: day 8 of each 28-day cycle]")
    assert len({o["groupIdentifier"]["value"] for o in made.all}) == 1


def test_bortezomib_days_1_4_8_11_keep_their_gaps() -> None:
    made = orders("vrd", "myeloma")
    bortezomib = [o for o in made.anticancer if drug(o) == "bortezomib"]
    assert [cycle_days(o) for o in bortezomib] == [[1], [4], [8], [11]]
    assert {repeat(o)["period"] for o in bortezomib} == {21}
    # Lenalidomide days 1-14 (oral) is one course of 14 days, once daily.
    (lenalidomide,) = [o for o in made.anticancer if drug(o) == "lenalidomide"]
    assert repeat(lenalidomide)["boundsDuration"]["value"] == 14
    assert cycle_days(lenalidomide) == list(range(1, 15))


def _catalog_with_cycles() -> RegimenCatalog:
    """The shipped catalog plus one regimen with a fixed number of cycles (4)."""
    data = read_regimen_catalog_data()
    data["regimens"] = [
        *data["regimens"],
        {
            "id": "test-four-cycles", "name": "Test", "drugs": ["irinotecan", "capecitabine"],
            "infusion_category": 2, "oral_pattern": "multi-on-off", "cancers": ["colorectal"],
            "sources": ["Doe"],
            **{k: {"percent": Decimal(1), "source": "Doe"} for k in ("hospitalization", "qol",
                                                                   "death")},
            "dosing_source": "Doe",
            "dosing": [
                {"drug": "irinotecan", "amount": 200, "unit": "mg/m2", "route": "intravenous",
                 "days": [1], "cycle_days": 21, "cycles": 4, "text": "Irinotecan 200 mg/m2"},
                {"drug": "capecitabine", "amount": 1000, "unit": "mg/m2", "route": "oral",
                 "days_range": [1, 14], "cycle_days": 21, "times_per_day": 2, "cycles": 4,
                 "text": "Capecitabine 1000 mg/m2"},
            ],
        },
    ]  # fmt: skip
    return RegimenCatalog.from_data(data)


def test_a_fixed_number_of_cycles_is_the_repeat_count() -> None:
    test_catalog = _catalog_with_cycles()
    test_regimen = test_catalog.regimen("test-four-cycles")
    assert test_regimen is not None
    made = regimen_orders(test_regimen, test_catalog, FRAME, "colorectal")
    irinotecan, capecitabine = made.anticancer
    # Day 1 of 21, 4 cycles: once every 21 days, 4 times.
    assert repeat(irinotecan) == {"frequency": 1, "period": 21, "periodUnit": "d", "count": 4}
    # Twice daily on days 1-14: one cycle's course; 4 cycles = the first dispense + 3 repeats.
    assert repeat(capecitabine)["frequency"] == 2
    assert repeat(capecitabine)["boundsDuration"]["value"] == 14
    assert capecitabine["dispenseRequest"] == {"numberOfRepeatsAllowed": 3}
    for order in made.all:
        MedicationRequest.model_validate(order)


# ---- per-cancer companions and per-setting doses ------------------------------------------


def test_docetaxel_has_prednisone_for_prostate_cancer_only() -> None:
    lung = orders("docetaxel", "lung")
    assert [drug(o) for o in lung.anticancer] == ["docetaxel"]
    assert all(drug(o) != "prednisone" for o in lung.all)
    prostate = orders("docetaxel", "prostate")
    assert [drug(o) for o in prostate.anticancer] == ["docetaxel", "prednisone"]
    prednisone = prostate.anticancer[1]
    assert repeat(prednisone) == {"frequency": 2, "period": 1, "periodUnit": "d"}


def test_abiraterone_prednisone_follows_the_setting() -> None:
    abiraterone = regimen("abiraterone-prednisone")

    def prednisone(setting: str) -> tuple[int, str]:
        (dose,) = [d for d in regimen_doses(abiraterone, "prostate", setting) if
                   d.drug == "prednisone"]  # fmt: skip
        return dose.times_per_day, dose.text

    # LATITUDE (castration-sensitive): 5 mg once daily; COU-AA-301/302: 5 mg twice daily.
    assert prednisone("castration-sensitive")[0] == 1
    assert "LATITUDE" in prednisone("castration-sensitive")[1]
    assert prednisone("castration-resistant")[0] == 2
    assert prednisone("")[0] == 2  # the catalog lists castration-resistant first
    mcspc = orders("abiraterone-prednisone", "prostate", "castration-sensitive")
    (order,) = [o for o in mcspc.anticancer if drug(o) == "prednisone"]
    assert repeat(order) == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert dose(order) == (5.0, "mg")


# ---- supportive orders ------------------------------------------------------------------


def test_cisplatin_pemetrexed_high_risk_antiemetics_and_pemetrexed_vitamins() -> None:
    made = orders("cisplatin-pemetrexed", "lung")
    assert made.plan is not None and made.plan.emetic_risk == "high"
    # cisplatin (high) day 1 of 21 → ASCO 2020 high set on offsets from day 1: aprepitant
    # 125 mg d1, 80 mg d2-3; ondansetron d1; dexamethasone 12 mg d1, 8 mg d2-4; olanzapine
    # 10 mg d1-4. Pemetrexed (label): folic acid daily, B12 every 63 days, dexamethasone
    # 4 mg twice daily on days 0-2. One dexamethasone a day, the larger wins: day 1 → 12 mg
    # (> 2 x 4 mg); day 2 → tie 8 mg vs 2 x 4 mg, the first listed (pemetrexed's) keeps it.
    assert summary(made.supportive) == [
        ("folic acid", 1000.0, "ug", []),
        ("vitamin B12 (cyanocobalamin)", 1000.0, "ug", [1]),
        ("dexamethasone", 4.0, "mg", []),  # day 0: no cycle day to name, said in the text
        ("dexamethasone", 4.0, "mg", [2]),
        ("aprepitant", 125.0, "mg", [1]),
        ("aprepitant", 80.0, "mg", [2, 3]),
        ("ondansetron", 8.0, "mg", [1]),
        ("dexamethasone", 12.0, "mg", [1]),
        ("dexamethasone", 8.0, "mg", [3, 4]),
        ("olanzapine", 10.0, "mg", [1, 2, 3, 4]),
    ]
    folic, b12 = made.supportive[:2]
    assert repeat(folic) == {"frequency": 1, "period": 1, "periodUnit": "d"}
    assert repeat(b12) == {"frequency": 1, "period": 63, "periodUnit": "d"}
    assert b12["dosageInstruction"][0]["route"]["coding"][0]["code"] == "78421000"  # IM
    day_before = made.supportive[2]["dosageInstruction"][0]["text"]
    assert "day 0: the day before day 1" in day_before
    assert all(o["reasonCode"][0]["text"] for o in made.supportive)


def test_ac_is_high_risk_with_dexamethasone_on_day_1_only() -> None:
    made = orders("ac", "breast")
    assert [(d, a, days) for d, a, _, days in summary(made.supportive)] == [
        ("aprepitant", 125.0, [1]),
        ("aprepitant", 80.0, [2, 3]),
        ("ondansetron", 8.0, [1]),
        ("dexamethasone", 12.0, [1]),
        ("olanzapine", 10.0, [1, 2, 3, 4]),
    ]


def test_folfox_is_moderate_risk_and_gets_no_g_csf() -> None:
    made = orders("folfox", "colorectal")
    assert made.plan is not None and made.plan.emetic_risk == "moderate"
    assert summary(made.supportive) == [
        ("ondansetron", 8.0, "mg", [1]),
        ("dexamethasone", 8.0, "mg", [1]),
    ]
    assert {repeat(o)["period"] for o in made.supportive} == {14}


def test_carboplatin_auc_5_or_more_adds_the_nk1_antagonist() -> None:
    # Carboplatin AUC 6 + paclitaxel: moderate, AUC >= 4 → aprepitant; the paclitaxel
    # premedication's dexamethasone 20 mg covers the antiemetic 12 mg on day 1.
    made = orders("carboplatin-paclitaxel", "lung")
    assert [d for d, *_ in summary(made.supportive)] == [
        "dexamethasone", "diphenhydramine", "famotidine", "aprepitant", "aprepitant",
        "ondansetron",
    ]  # fmt: skip
    assert dose(made.supportive[0]) == (20.0, "mg")


def test_weekly_paclitaxel_premedication() -> None:
    made = orders("paclitaxel-weekly", "breast")
    # Low risk → one dexamethasone 8 mg, covered by the 20 mg premedication of the same day.
    assert summary(made.supportive) == [
        ("dexamethasone", 20.0, "mg", [1]),
        ("diphenhydramine", 50.0, "mg", [1]),
        ("famotidine", 20.0, "mg", [1]),
    ]
    assert {repeat(o)["period"] for o in made.supportive} == {7}


def test_tc_gets_pegfilgrastim_the_day_after_chemotherapy() -> None:
    made = orders("tc", "breast")
    assert summary(made.supportive) == [
        ("dexamethasone", 8.0, "mg", []),  # docetaxel: 8 mg twice daily days 0-2 (one course)
        ("ondansetron", 8.0, "mg", [1]),
        ("pegfilgrastim", 6.0, "mg", [2]),
    ]
    dexamethasone, _, pegfilgrastim = made.supportive
    assert repeat(dexamethasone)["frequency"] == 2
    assert repeat(dexamethasone)["boundsDuration"]["value"] == 3
    # TC is 4 cycles (Jones SE et al. J Clin Oncol 2006;24:5381; catalog `cycles = 4`): the
    # G-CSF given once per cycle stops with them.
    assert repeat(pegfilgrastim) == {"frequency": 1, "period": 21, "periodUnit": "d", "count": 4}
    assert pegfilgrastim["dosageInstruction"][0]["route"]["coding"][0]["code"] == "34206005"
    assert made.plan is not None
    assert any("Febrile-neutropenia risk >= 20 % (tc" in n for n in made.plan.notes)


def test_dose_dense_ac_is_matched_by_drugs_and_cycle_length() -> None:
    ac = regimen("ac")
    dense = replace(ac, id="ac-dd", dosing=tuple(replace(d, cycle_days=14) for d in ac.dosing))
    made = regimen_orders(dense, catalog(), FRAME, "breast", care=load_supportive_care())
    assert [d for d, *_ in summary(made.supportive)][-1] == "pegfilgrastim"
    assert cycle_days(made.supportive[-1]) == [2]
    # Every 21 days, AC is not on the >= 20 % list: no pegfilgrastim.
    assert "pegfilgrastim" not in [drug(o) for o in orders("ac", "breast").supportive]


def test_an_oral_targeted_drug_gets_no_supportive_orders() -> None:
    made = orders("osimertinib", "lung")
    assert made.supportive == ()
    assert made.plan is not None and made.plan.emetic_risk is None


@pytest.mark.parametrize("rxcui", ["4511", "11248", "61381", "3498", "4278"])
def test_supportive_products_stay_out_of_the_billing_catalog(rxcui: str) -> None:
    """Folic acid, vitamin B12, olanzapine, diphenhydramine, famotidine: the billing engine
    counts catalog drugs as treatment, so these must not be catalog drugs."""
    assert all(d.rxcui != rxcui for d in catalog().drugs.values())


def test_every_shipped_regimen_orders_validate_as_r4() -> None:
    for regimen_id, found in catalog().regimens.items():
        for cancer in found.cancers or (None,):
            made = regimen_orders(found, catalog(), FRAME, cancer, care=load_supportive_care())
            for order in made.all:
                MedicationRequest.model_validate(order)
                assert order["dosageInstruction"][0]["text"], regimen_id


# ---- invariant: the orders say exactly the cycle days of the dose ---------------------------


@st.composite
def cycle_doses(draw: st.DrawFn) -> Dose:
    cycle = draw(st.integers(min_value=1, max_value=42))
    days = draw(st.sets(st.integers(min_value=1, max_value=cycle), min_size=1))
    return Dose(
        drug="gemcitabine",
        route=draw(st.sampled_from(["intravenous", "oral"])),
        text="Gemcitabine",
        amount=Decimal(1000),
        unit="mg/m2",
        days=tuple(sorted(days)),
        cycle_days=cycle,
        times_per_day=draw(st.integers(min_value=1, max_value=3)),
        cycles=draw(st.none() | st.integers(min_value=1, max_value=12)),
    )


@settings(max_examples=60, deadline=None)
@given(cycle_doses())
def test_orders_cover_exactly_the_dose_days_and_never_invent_consecutive_ones(dose: Dose) -> None:
    one = replace(regimen("gemcitabine"), dosing=(dose,))
    made = regimen_orders(one, catalog(), FRAME, "pancreas")
    covered: list[int] = []
    for order in made.anticancer:
        days = cycle_days(order)
        covered += days
        timing = repeat(order)
        if "boundsDuration" in timing:  # one course of consecutive days
            assert days == list(range(days[0], days[0] + len(days)))
            assert timing["boundsDuration"]["value"] == len(days)
            assert timing["frequency"] == dose.times_per_day
        else:  # one day of every cycle
            assert len(days) == 1
            assert (timing["frequency"], timing["period"]) == (1, dose.cycle_days)
            assert timing.get("count") == dose.cycles
    assert sorted(covered) == list(dose.days)
