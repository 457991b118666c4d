"""The breast, prostate and hematologic catalog files: one Table 3 method, Table 4 bases,
the added regimens, variants by companions, and the transplant day (cpoc-rules §5).

Expected points are derived by hand from each regimen's figures (Table 3: 4 points if
hospitalization > 35 % or QOL >= 75 % or death >= 10 %; 2 points if >= 20 %, >= 50 % or
>= 1 %; else 0) and its infusion basis (Table 4's descriptions).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import Runner, lines_of
from factories import cancer, d, given, oral, record, visit
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from cpoc_fhir.engine.facts import DrugRole, PatientRecord, Route, Transplant
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.loader import read_data_file
from cpoc_fhir.knowledge.regimen_data import FIGURE_BASES
from cpoc_fhir.knowledge.regimens import Regimen, RegimenCatalog
from cpoc_fhir.pathways.orders import OrderFrame, regimen_orders

AREA_FILES = ("breast.toml", "prostate.toml", "hematologic.toml")


def _ids(key: str) -> list[str]:
    return [
        entry["id"]
        for name in AREA_FILES
        for entry in read_data_file(f"regimens/{name}").get(key, [])
    ]


REGIMEN_IDS = _ids("regimens")
DRUG_IDS = _ids("drugs")


@pytest.fixture(scope="module")
def catalog(knowledge: Knowledge) -> RegimenCatalog:
    return knowledge.regimens


def _regimens(catalog: RegimenCatalog) -> list[Regimen]:
    return [catalog.regimens[i] for i in REGIMEN_IDS]


# ---- the one Table 3 method -------------------------------------------------------------


def test_every_figure_names_its_trial_arm_table_and_number(catalog: RegimenCatalog) -> None:
    assert len(REGIMEN_IDS) == 60  # the three files: 26 regimens before, 34 added
    for regimen in _regimens(catalog):
        for name in ("hospitalization", "qol", "death"):
            figure = getattr(regimen, name)
            where = f"{regimen.id}.{name}"
            assert figure.trial and figure.arm and figure.table and figure.number, where
            assert figure.basis in FIGURE_BASES, where
            assert figure.source.strip(), where


def test_no_figure_is_a_bare_commonest_event(catalog: RegimenCatalog) -> None:
    # The mixed measure: one event's rate standing for "any grade 3-5" must say so
    # ("lower bound") or be marked an estimate.
    for regimen in _regimens(catalog):
        figure = regimen.hospitalization
        single_event = any(e in figure.number for e in ("neutropenia", "leukopenia"))
        if single_event and "adverse events" not in figure.number:
            assert "lower bound" in figure.number or "estimate" in figure.source, regimen.id


def test_estimates_say_so_and_read_figures_carry_the_number(catalog: RegimenCatalog) -> None:
    for regimen in _regimens(catalog):
        for figure in (regimen.hospitalization, regimen.qol, regimen.death):
            marked = any(w in figure.source for w in ("estimate", "approximation", "derived"))
            assert marked or "%" in figure.source, (regimen.id, figure.source)


# ---- Table 4: every infused regimen says what its category rests on -----------------------


def test_every_infused_regimen_has_its_infusion_basis(catalog: RegimenCatalog) -> None:
    for regimen in _regimens(catalog):
        if regimen.infusion_category is None:
            assert not regimen.infusion_basis, regimen.id
            continue
        assert regimen.infusion_basis, regimen.id
        # The basis ends with the category it leads to, which is the catalog's category.
        stated = re.findall(r"category (\d)", regimen.infusion_basis)
        assert stated and int(stated[0]) == regimen.infusion_category, regimen.id


# ---- the added regimens: matched from their drug sets, T and D by hand ---------------------

ADDED = [
    # (given drugs, regimen id, T, category or oral pattern, derivation)
    ({"docetaxel", "trastuzumab", "pertuzumab"}, "thp", 4, 3,
     "CLEOPATRA grade >=3 neutropenia 48.9% > 35 → 4; antibodies + docetaxel 3-5 h → 3"),
    ({"trastuzumab-emtansine"}, "trastuzumab-emtansine", 2, 2,
     "KATHERINE 25.7% (20-35) and QOL 73.1% (50-74) → 2; single-agent ADC 1-3 h → 2"),
    ({"trastuzumab-deruxtecan"}, "trastuzumab-deruxtecan", 4, 2,
     "DESTINY-Breast03 drug-related grade >=3 45.1% > 35 → 4; single agent 1.5-2.5 h → 2"),
    ({"letrozole", "ribociclib"}, "letrozole-ribociclib", 4, "multi-on-off",
     "MONALEESA-2 grade 3-4 neutropenia 59.3% > 35 → 4; two orals, ribociclib 21/28"),
    ({"anastrozole", "ribociclib"}, "anastrozole-ribociclib", 4, "multi-on-off",
     "MONALEESA-2 by class 59.3% > 35 → 4"),
    ({"fulvestrant", "ribociclib"}, "fulvestrant-ribociclib", 4, 0,
     "MONALEESA-3 neutropenia 53.4% > 35 → 4; IM fulvestrant → 0"),
    ({"abemaciclib", "fulvestrant"}, "fulvestrant-abemaciclib", 4, 0,
     "MONARCH 2 estimate 60% > 35 → 4; IM fulvestrant → 0"),
    ({"abemaciclib", "anastrozole"}, "anastrozole-abemaciclib", 4, "multi-daily",
     "MONARCH 3 grade 3-4 58.4% > 35 → 4 (deaths 3.4% alone would give 2)"),
    ({"abemaciclib", "letrozole"}, "letrozole-abemaciclib", 4, "multi-daily",
     "MONARCH 3 grade 3-4 58.4% > 35 → 4"),
    ({"anastrozole", "palbociclib"}, "anastrozole-palbociclib", 4, "multi-on-off",
     "PALOMA-2 by class 66.4% > 35 → 4"),
    ({"exemestane", "palbociclib"}, "exemestane-palbociclib", 4, "multi-on-off",
     "PALOMA-2 by class 66.4% > 35 → 4"),
    ({"exemestane"}, "exemestane", 0, "single-daily", "5% / 40% / 0.1% → 0"),
    ({"doxorubicin", "cyclophosphamide", "pembrolizumab"}, "ac-pembrolizumab", 4, 3,
     "KEYNOTE-522 treatment-related grade >=3 78.0% > 35 → 4; combination 2.5-3.5 h → 3"),
    ({"epirubicin", "cyclophosphamide", "pembrolizumab"}, "ec-pembrolizumab", 4, 3,
     "KEYNOTE-522 78.0% > 35 → 4; combination → 3"),
    ({"darolutamide"}, "darolutamide", 2, "single-daily",
     "ARAMIS grade 3-5 28.6% (20-35), QOL 54.6%, grade 5 3.9% → 2"),
    ({"docetaxel", "darolutamide"}, "docetaxel-darolutamide", 4, 2,
     "ARASENS grade 3-5 70.2% > 35 → 4; docetaxel 1 h single agent → 2"),
    ({"relugolix"}, "relugolix", 2, "single-daily",
     "HERO 19.0% (< 20) but QOL 73.6% (50-74) and fatal 1.4% (>= 1) → 2"),
    ({"degarelix"}, "degarelix", 2, 0, "QOL estimate 70% (50-74) → 2; SC injection → 0"),
    ({"bicalutamide"}, "bicalutamide", 2, "single-daily", "hot flushes 53% (50-74) → 2"),
    ({"rituximab", "etoposide", "doxorubicin", "vincristine", "cyclophosphamide"},
     "da-epoch-r", 4, 4, "estimate 90% > 35 → 4; 96-h pump, > 6 h day 1 → 4"),
    ({"rituximab", "ifosfamide", "carboplatin", "etoposide"}, "r-ice", 4, 4,
     "estimate 80% > 35 → 4; 24-h ifosfamide → 4"),
    ({"rituximab", "gemcitabine", "oxaliplatin"}, "r-gemox", 4, 3,
     "estimate 50% > 35 → 4; GemOx 4-5 h → 3"),
    ({"polatuzumab-vedotin", "bendamustine", "rituximab"}, "pola-br", 4, 3,
     "grade >=3 neutropenia 42% > 35 → 4; day 1 3.5-5 h → 3"),
    ({"daratumumab", "bortezomib", "lenalidomide"}, "d-vrd", 4, 0,
     "PERSEUS about 92% > 35 → 4; SC daratumumab and bortezomib → 0"),
    ({"daratumumab", "lenalidomide"}, "drd", 4, 0, "MAIA 95.9% > 35 → 4; SC → 0"),
    ({"carfilzomib", "lenalidomide"}, "krd", 4, 2,
     "ASPIRE 83.7% > 35 → 4; carfilzomib + hydration 1.5-2 h → 2"),
    ({"carfilzomib"}, "kd", 4, 2, "ENDEAVOR about 73% > 35 → 4; → 2"),
    ({"pomalidomide"}, "pomalidomide-dexamethasone", 4, "multi-on-off",
     "MM-003 neutropenia 48% > 35 → 4; dexamethasone is its companion"),
    ({"cyclophosphamide", "bortezomib"}, "cybord", 4, 2, "estimate 48% > 35 → 4; → 2"),
    ({"dasatinib"}, "dasatinib", 2, "single-daily", "21% (20-35) and QOL 60% → 2"),
    ({"nilotinib"}, "nilotinib", 2, "single-daily", "12% but QOL 55% (50-74) → 2"),
    ({"bosutinib"}, "bosutinib", 2, "single-daily", "30% (20-35), QOL 65% → 2"),
    ({"melphalan"}, "melphalan-asct", 4, 2,
     "grade 3-4 neutropenia 92% > 35 → 4; melphalan 30 min + hydration → 2"),
    ({"lenalidomide"}, "lenalidomide", 4, "single-daily",
     "CALGB 100104 grade 3-4 haematological 48% > 35 → 4; one daily oral drug"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("drugs", "regimen_id", "points", "administration", "why"),
    ADDED,
    ids=[row[1] for row in ADDED],
)
def test_added_regimen_is_matched_with_its_points(
    catalog: RegimenCatalog,
    drugs: set[str],
    regimen_id: str,
    points: int,
    administration: int | str,
    why: str,
) -> None:
    match = catalog.match(drugs)
    assert [r.id for r in match.regimens] == [regimen_id], why
    assert match.unmatched == frozenset() and match.warnings == ()
    regimen = match.regimens[0]
    assert regimen.toxicity_points == points, why
    if isinstance(administration, int):
        assert regimen.infusion_category == administration, why
    else:
        assert regimen.infusion_category is None and regimen.oral_pattern == administration, why


# Re-derived figures that moved an existing regimen's points (old → new).
@pytest.mark.parametrize(
    ("regimen_id", "points", "why"),
    [
        ("docetaxel", 4, "2 → 4: grade 3-5 estimate 40% (TAX 327 neutropenia 32% a lower bound)"),
        ("abiraterone-prednisone", 4, "2 → 4: LATITUDE grade 3 63%"),
        ("rituximab", 4, "2 → 4: label's pooled single-agent grade 3-4 57%"),
        ("r-chop", 4, "4 stays: grade 3-4 estimate 65% (QOL now 35%, not 85%)"),
        ("ac", 4, "4 stays: grade 3-4 estimate 45% (QOL now 55%, not 85%)"),
        ("cabazitaxel", 4, "4 stays: PROSELICA 20 mg/m2 grade 3-4 39.7%"),
        ("enzalutamide", 2, "2 stays: ARCHES 24.3%"),
        ("trastuzumab", 0, "0 stays: 5% / 30% / 0.1%"),
    ],
)
def test_rederived_points(catalog: RegimenCatalog, regimen_id: str, points: int, why: str) -> None:
    assert catalog.regimens[regimen_id].toxicity_points == points, why


def test_thp_is_one_regimen_at_category_3(catalog: RegimenCatalog, run: Runner) -> None:
    # Before, THP was assembled as trastuzumab + pertuzumab and docetaxel, both category 2.
    facts = {
        "diagnoses": [cancer("C50.9", "2025-01-01", cancer_type="breast")],
        "visits": [visit("2025-01-20")],
        "exposures": [given(x, "2025-02-03") for x in ("docetaxel", "trastuzumab", "pertuzumab")],
    }
    [month] = lines_of(run(record(**facts), "2025-04-01"), "treatment-month")
    # T: THP 4. D: one infusion day at category 3 → 3 (Table 4, a single day at c earns c).
    assert month.score is not None
    assert (month.score.regimen, month.score.toxicity, month.score.administration) == (
        "thp",
        4,
        3,
    )


def test_anastrozole_with_palbociclib_is_scored(run: Runner) -> None:
    # Before, palbociclib was left unscored beside anastrozole.
    facts = {
        "diagnoses": [cancer("C50.9", "2025-01-01", cancer_type="breast")],
        "visits": [visit("2025-01-20")],
        "exposures": [
            oral("anastrozole", "2025-02-03", 84),
            oral("palbociclib", "2025-02-03", 21),  # 21 days on, 7 off: two cycles
            oral("palbociclib", "2025-03-03", 21),
        ],
    }
    months = lines_of(run(record(**facts), "2025-04-01"), "treatment-month")
    # T 4 (PALOMA-2 66.4%). D: several oral drugs with an on-off pattern → 4 in the initial
    # month, 3 later (Table 4 oral column); the off-week days (anastrozole alone, single daily,
    # 0 later) do not lower the month (§5: the highest of the month's regimens).
    assert [
        (m.score.regimen, m.score.toxicity, m.score.administration) for m in months if m.score
    ] == [
        ("anastrozole-palbociclib", 4, 4),
        ("anastrozole-palbociclib", 4, 3),
    ]


# ---- variants: lenalidomide alone and with dexamethasone ----------------------------------


def test_lenalidomide_alone_and_with_dexamethasone_are_distinct_variants(
    catalog: RegimenCatalog,
) -> None:
    alone, rd = catalog.regimens["lenalidomide"], catalog.regimens["lenalidomide-dexamethasone"]
    assert alone.drugs == rd.drugs == ("lenalidomide",)  # one identity (§5)
    assert (alone.companions, rd.companions) == ((), ("dexamethasone",))
    assert (alone.oral_pattern, rd.oral_pattern) == ("single-daily", "multi-on-off")
    # The variant whose companions are given, else the one without companions.
    assert [r.id for r in catalog.match({"lenalidomide"}).regimens] == ["lenalidomide"]
    assert [r.id for r in catalog.match({"lenalidomide", "dexamethasone"}).regimens] == [
        "lenalidomide-dexamethasone"
    ]
    assert [r.id for r in catalog.match({"lenalidomide", "ondansetron"}).regimens] == [
        "lenalidomide"
    ]
    # Other sets are untouched: VRd still needs its bortezomib.
    assert [
        r.id for r in catalog.match({"bortezomib", "lenalidomide", "dexamethasone"}).regimens
    ] == ["vrd"]


def test_lenalidomide_maintenance_earns_the_single_daily_oral_points(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer("C90.00", "2025-01-01", cancer_type="myeloma")],
        "visits": [visit("2025-01-20")],
        "exposures": [oral("lenalidomide", "2025-02-03", 84)],
    }
    months = lines_of(run(record(**facts), "2025-06-01"), "treatment-month")
    # Single drug daily: D 1 in the initial month, 0 after (Table 4); T 4 (48% > 35).
    assert [(m.score.regimen, m.score.administration) for m in months if m.score] == [
        ("lenalidomide", 1),
        ("lenalidomide", 0),
        ("lenalidomide", 0),
    ]


# ---- autologous stem cell transplant -------------------------------------------------------


def _transplant_record(*extra_on_day_0: str) -> PatientRecord:
    exposures = [given("melphalan", "2025-02-03")]
    exposures += [given(x, "2025-02-05", DrugRole.SUPPORTIVE) for x in extra_on_day_0]
    return record(
        diagnoses=[cancer("C90.00", "2025-01-01", cancer_type="myeloma")],
        visits=[visit("2025-01-20")],
        exposures=exposures,
        transplants=[Transplant("Procedure/asct", d("2025-02-05"))],
    )


def _month_1(timeline: PatientTimeline) -> tuple[str | None, int, int]:
    month = lines_of(timeline, "treatment-month")[0]
    assert month.score is not None
    return month.score.regimen, month.score.toxicity, month.score.administration


def test_transplant_day_earns_its_6_points(run: Runner) -> None:
    # Melphalan 200 mg/m2 on day -2 (category 2) and the stem cell infusion on day 0 (the
    # Procedure: 6). Days [2, 6]: 2+ days at >= 2 → 4; the highest, 6, wins. T: melphalan 4.
    assert _month_1(run(_transplant_record(), "2025-04-01")) == ("melphalan-asct", 4, 6)


def test_transplant_day_keeps_its_6_points_with_an_iv_antiemetic(run: Runner) -> None:
    assert _month_1(run(_transplant_record("ondansetron"), "2025-04-01"))[2] == 6


# ---- dosing -----------------------------------------------------------------------------


def test_every_dosing_entry_is_complete_and_fixed_courses_say_their_cycles(
    catalog: RegimenCatalog,
) -> None:
    for regimen in _regimens(catalog):
        assert regimen.dosing and regimen.dosing_source, regimen.id
        assert {d.drug for d in regimen.dosing} >= {*regimen.drugs, *regimen.companions}
        for dose in regimen.dosing:
            assert dose.text and (dose.amount is not None or dose.dose_text), regimen.id
            if dose.cycles is not None:  # a fixed course repeats a cycle
                assert dose.cycle_days is not None and dose.days, (regimen.id, dose.text)
    cycles = {(r.id, d.drug): d.cycles for r in _regimens(catalog) for d in r.dosing if d.cycles}
    assert cycles[("ac", "doxorubicin")] == 4
    assert cycles[("thp", "docetaxel")] == 6
    assert ("thp", "trastuzumab") not in cycles  # antibodies until progression
    assert cycles[("trastuzumab-emtansine", "trastuzumab-emtansine")] == 14
    assert cycles[("r-ice", "ifosfamide")] == 3
    assert cycles[("melphalan-asct", "melphalan")] == 1


def test_per_cancer_keynote_522_doses_are_not_a_second_carboplatin_paclitaxel_pembrolizumab(
    catalog: RegimenCatalog,
) -> None:
    # The lung file owns carboplatin + paclitaxel + pembrolizumab; this file adds none.
    sets = [frozenset(r.drugs) for r in _regimens(catalog)]
    assert frozenset({"carboplatin", "paclitaxel", "pembrolizumab"}) not in sets


# ---- the new drugs -------------------------------------------------------------------------

NEW_DRUGS = [
    "trastuzumab-emtansine", "trastuzumab-deruxtecan", "ribociclib", "abemaciclib",
    "exemestane", "darolutamide", "relugolix", "degarelix", "bicalutamide", "ifosfamide",
    "mesna", "daratumumab", "carfilzomib", "pomalidomide", "melphalan", "dasatinib",
    "nilotinib", "bosutinib",
]  # fmt: skip


def test_new_drug_ids_exist_and_resolve_by_code_and_name(catalog: RegimenCatalog) -> None:
    assert set(NEW_DRUGS) <= set(DRUG_IDS)
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    for drug_id in NEW_DRUGS:
        drug = catalog.drugs[drug_id]
        assert catalog.resolve([(rxnorm, drug.rxcui, None)], None).drug is drug
        assert catalog.resolve([], f"{drug.name} as ordered").drug is drug
    assert catalog.drugs["mesna"].role is DrugRole.SUPPORTIVE
    # The conjugates are named before plain trastuzumab (longest name first).
    for text, drug_id in [
        ("ado-trastuzumab emtansine 3.6 mg/kg", "trastuzumab-emtansine"),
        ("Enhertu 5.4 mg/kg IV", "trastuzumab-deruxtecan"),
        ("Darzalex Faspro 1800 mg SC", "daratumumab"),
    ]:
        found = catalog.resolve([], text).drug
        assert found is not None and found.id == drug_id, text


def test_new_drug_routes_follow_how_they_are_given(catalog: RegimenCatalog) -> None:
    oral = {"ribociclib", "abemaciclib", "exemestane", "darolutamide", "relugolix",
            "bicalutamide", "pomalidomide", "dasatinib", "nilotinib", "bosutinib"}  # fmt: skip
    for drug_id in NEW_DRUGS:
        expected = Route.ORAL if drug_id in oral else Route.PARENTERAL
        assert catalog.drugs[drug_id].route is expected, drug_id


# ---- invariant: companions and supportive drugs never change identity (§5) -----------------

SUPPORTIVE = ["dexamethasone", "prednisone", "ondansetron", "filgrastim", "mesna"]


@settings(max_examples=150, deadline=None)
@hypothesis_given(
    regimen_id=st.sampled_from(REGIMEN_IDS),
    extra=st.sets(st.sampled_from(SUPPORTIVE), max_size=3),
)
def test_supportive_drugs_never_change_a_matched_identity(
    knowledge: Knowledge, regimen_id: str, extra: set[str]
) -> None:
    catalog = knowledge.regimens
    regimen = catalog.regimens[regimen_id]
    match = catalog.match({*regimen.drugs, *extra})
    # The anti-cancer set matched is the regimen's (a variant may be chosen by companions).
    assert [r.drugs for r in match.regimens] == [regimen.drugs]
    assert match.unmatched == frozenset() and match.warnings == ()


@settings(max_examples=100, deadline=None)
@hypothesis_given(extra=st.sets(st.sampled_from(SUPPORTIVE), max_size=4))
def test_the_dexamethasone_variant_is_chosen_exactly_when_dexamethasone_is_given(
    knowledge: Knowledge, extra: set[str]
) -> None:
    [chosen] = knowledge.regimens.match({"lenalidomide", *extra}).regimens
    expected = "lenalidomide-dexamethasone" if "dexamethasone" in extra else "lenalidomide"
    assert chosen.id == expected


# ---- the doses as orders -------------------------------------------------------------------


def test_every_regimen_writes_r4_medication_requests(catalog: RegimenCatalog) -> None:
    # Order-time suggestions write draft MedicationRequests for a regimen's doses (one per
    # cycle-day offset, see pathways/orders.py); each must be valid R4 (R4B models at the
    # boundary) and every defining drug must be ordered, for each cancer the regimen treats.
    frame = OrderFrame("p1", date(2026, 1, 5), ("https://example.org/PlanDefinition/x|1",), "n")
    for regimen in _regimens(catalog):
        for treated in regimen.cancers or (None,):
            orders = regimen_orders(regimen, catalog, frame, treated).anticancer
            ordered = {o["medicationCodeableConcept"]["text"].lower() for o in orders}
            for drug_id in regimen.drugs:
                name = catalog.drugs[drug_id].name.lower()
                assert any(name in text for text in ordered), (regimen.id, treated, drug_id)
            for order in orders:
                MedicationRequest.model_validate(order)
                assert order["dosageInstruction"][0]["text"], regimen.id


def test_cancers_are_the_cancer_types_conditions_know(catalog: RegimenCatalog) -> None:
    types = set(read_data_file("conditions.toml")["cancer"]["icd10"]["types"])
    for regimen in _regimens(catalog):
        assert set(regimen.cancers) <= types, (regimen.id, regimen.cancers)
