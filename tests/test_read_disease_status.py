"""Cancer disease status (cpoc-rules §6): every code of the data file → its state, text read
with negation, undetermined (with a warning naming the Observation) when unsure."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_read_support import FAKE_KNOWLEDGE

from cpoc_fhir.cli import bundled_examples
from cpoc_fhir.engine.facts import DiseaseState, PatientRecord
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.fhir.read import patient_resources, read_record
from cpoc_fhir.fhir.read.disease_status import disease_status_knowledge, text_reader
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.disease_status import DiseaseStatusKnowledge
from cpoc_fhir.knowledge.loader import read_data_file
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.service import Evaluator

SCT = "http://snomed.info/sct"
REQUESTED = "http://hl7.org/fhir/us/mcode/CodeSystem/snomed-requested-cs"
NED, IMPROVED, STABLE = DiseaseState.NED, DiseaseState.IMPROVED, DiseaseState.STABLE
WORSENED, METASTATIC = DiseaseState.WORSENED, DiseaseState.METASTATIC
UNDETERMINED = DiseaseState.UNDETERMINED

# Hand-made from the value sets (sources in the data file's header): mCODE STU1 VS
# (260415000 + the four trend codes), STU2 (USCRS requested codes), STU2.1 (their SNOMED CT US
# codes), STU3/STU4 (qualifier values in full / partial remission, distant metastasis), plus
# the SNOMED CT values records carry for remission, relapse and recurrence.
CODES = [
    (SCT, "260415000", NED),  # Not detected (STU1)
    (SCT, "281900007", NED),  # No abnormality detected
    (SCT, "268910001", IMPROVED),  # Patient's condition improved
    (SCT, "359746009", STABLE),  # Patient's condition stable
    (SCT, "271299001", WORSENED),  # Patient's condition worsened
    (SCT, "709137006", UNDETERMINED),  # Patient condition undetermined
    (REQUESTED, "USCRS-352236", NED),  # Cancer in complete remission (STU2)
    (REQUESTED, "USCRS-352237", IMPROVED),  # Cancer in partial remission: disease remains
    (SCT, "550991000124107", NED),  # Malignant neoplasm in full remission (STU2.1)
    (SCT, "551001000124108", IMPROVED),  # Malignant neoplasm in partial remission
    (SCT, "103338009", NED),  # In full remission (STU3+)
    (SCT, "103337004", IMPROVED),  # In partial remission
    (SCT, "399409002", METASTATIC),  # Distant metastasis present (STU3+)
    (SCT, "277022003", NED),  # Remission phase: "in remission" is NED (§6)
    (SCT, "263855007", WORSENED),  # Relapse phase
    (SCT, "246455001", WORSENED),  # Recurrence
    (SCT, "58184002", WORSENED),  # Recurrent disease
]


def _status(value: dict[str, Any], rid: str = "s", on: str = "2024-06-01") -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": rid, "status": "final",
        "subject": {"reference": "Patient/p"}, "effectiveDateTime": on,
        "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]}, **value,
    }  # fmt: skip


def _read(*observations: dict[str, Any]) -> PatientRecord:
    given = [{"resourceType": "Patient", "id": "p"}, *observations]
    return read_record(patient_resources(given, "p"), FAKE_KNOWLEDGE)


@pytest.mark.parametrize(("system", "code", "state"), CODES)
def test_each_code_gives_its_state(system: str, code: str, state: DiseaseState) -> None:
    record = _read(
        _status({"valueCodeableConcept": {"coding": [{"system": system, "code": code}]}})
    )
    assert [s.state for s in record.disease_status] == [state]
    assert record.warnings == ()


def test_the_table_above_is_every_code_of_the_data_file() -> None:
    known = disease_status_knowledge()
    assert {(s, c) for s, c, _ in CODES} == {
        (entry.system, entry.code) for entry in known.codes.values()
    }
    assert {entry.state for entry in known.codes.values()} == set(DiseaseState)
    # SNOMED CT's OID is the same system.
    oid = {"system": "urn:oid:2.16.840.1.113883.6.96", "code": "103338009"}
    assert [
        s.state for s in _read(_status({"valueCodeableConcept": {"coding": [oid]}})).disease_status
    ] == [NED]


# Text-only values: (text, state, why). The rule is disease_text.py's docstring.
TEXTS = [
    # The two: negated remission / negated progression are not NED.
    ("Not in complete remission", UNDETERMINED, "remission negated: how much disease, unsaid"),
    ("No evidence of disease progression", STABLE, "progression negated: not worse, not NED"),
    # The rules' NED phrasings.
    ("NED", NED, "the abbreviation of no evidence of disease"),
    ("No evidence of disease", NED, "the disease itself negated"),
    ("Complete response", NED, "complete response = remission"),
    ("In remission", NED, "cpoc-rules §6 reads it as NED"),
    # Negations of remission.
    ("No longer in remission", UNDETERMINED, "remission negated (no relapse stated: no event)"),
    ("Remission not achieved", UNDETERMINED, "post-negation of remission"),
    ("Complete remission was not achieved", UNDETERMINED, "post-negation two words after"),
    ("Failed to achieve complete remission", UNDETERMINED, "negation trigger before"),
    ("didn't achieve remission", UNDETERMINED, "n't reads not; 'did not achieve' negates"),
    ("Not NED", UNDETERMINED, "NED negated"),
    # Negated progression / recurrence.
    ("Progression-free", STABLE, "'free' negates progression: not worse, says nothing of NED"),
    ("No new lesions", STABLE, "new lesions are progression; negated: not worse"),
    ("Without evidence of recurrence", NED, "recurrence presupposes remission; negated it goes on"),
    ("Recurrence-free", NED, "as above"),
    ("Relapse ruled out", NED, "post-negation of relapse"),
    ("No evidence of recurrence or metastatic disease", NED,
     "recurrence negated; negated metastasis agrees"),
    ("Disease free", NED, "the disease negated by 'free'"),
    ("Free of disease", NED, "the disease negated by 'free of'"),
    ("No evidence of active disease", NED, "active disease negated"),
    # Doubt and double negation: never NED.
    ("Not disease free", UNDETERMINED, "two negations: a doubt"),
    ("Possible recurrence", UNDETERMINED, "uncertain: a doubt"),
    ("Recurrence cannot be excluded", UNDETERMINED, "uncertain after the concept"),
    ("Cannot rule out progression", UNDETERMINED, "uncertain, not a negation"),
    ("Complete remission but relapse suspected", UNDETERMINED, "remission with a doubt"),
    ("NED; recurrence in the liver", UNDETERMINED, "contradicting states"),
    ("Residual disease", UNDETERMINED, "disease said to be there: not NED"),
    # Other states.
    ("Partial response", IMPROVED, "partial response: improved"),
    ("Cancer in partial remission", IMPROVED, "the disease named, partial remission"),
    ("Stable disease", STABLE, "stable"),
    ("Progressive disease", WORSENED, "progression affirmed"),
    ("Relapsed", WORSENED, "relapse affirmed"),
    ("Distant metastasis present (finding)", METASTATIC, "metastasis affirmed, tag dropped"),
    ("Malignant neoplasm in full remission (disorder)", NED, "the disease named, full remission"),
    ("Not detected (qualifier value)", NED, "the whole value: mCODE STU1's 260415000"),
    ("Undetermined", UNDETERMINED, "said so"),
    ("Not yet in remission", UNDETERMINED, "'yet' does not end the negation's scope"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "state", "why"), TEXTS)
def test_text_is_read_with_its_negation(text: str, state: DiseaseState, why: str) -> None:
    assert text_reader().read(text).state is state, why


def test_text_table_is_large_enough() -> None:
    assert len(TEXTS) >= 25


@pytest.mark.parametrize(
    ("value", "state", "warning"),
    [
        ({"valueString": "no evidence of disease"}, NED, None),
        ({"valueCodeableConcept": {"text": "Not in complete remission"}}, UNDETERMINED, None),
        # A display is read when its code is not known.
        ({"valueCodeableConcept": {"coding": [
            {"system": SCT, "code": "999", "display": "In remission"}]}}, NED, None),
        # A known code wins over the wording.
        ({"valueCodeableConcept": {"coding": [
            {"system": SCT, "code": "271299001"}], "text": "NED"}}, WORSENED, None),
        ({"valueCodeableConcept": {"coding": [{"system": SCT, "code": "103338009"},
                                              {"system": SCT, "code": "263855007"}]}},
         UNDETERMINED, "codes contradicting disease statuses"),
        ({"valueCodeableConcept": {"coding": [{"system": SCT, "code": "363679005"}]}},
         UNDETERMINED, "value is an evidence type, not a disease status"),
        ({"valueString": "see note"}, UNDETERMINED, "names no disease status that can be read"),
        ({"valueString": "NED; progression"}, UNDETERMINED,
         "states contradicting disease statuses"),
        ({}, UNDETERMINED, "no value"),
    ],
)  # fmt: skip
def test_observation_values(
    value: dict[str, Any], state: DiseaseState, warning: str | None
) -> None:
    record = _read(_status(value))
    assert [s.state for s in record.disease_status] == [state]
    expected = () if warning is None else (
        f"Observation/s: cancer disease status: {warning}; read as undetermined",
    )  # fmt: skip
    assert record.warnings == expected  # the text itself is never quoted


NEGATIONS = ["not", "no longer", "never", "not in", "without", "failed to achieve", "no"]
FILLER = ["the", "patient", "is", "currently", "clinically", "yet"]
REMISSION = [
    p for c in disease_status_knowledge().text.concepts if c.affirmed == "ned" for p in c.phrases
]


@settings(max_examples=300, deadline=None)
@given(
    trigger=st.sampled_from(NEGATIONS),
    between=st.lists(st.sampled_from(FILLER), max_size=3),
    phrase=st.sampled_from(REMISSION),
    after=st.sampled_from(["", " not achieved", " possible", " ?"]),
)
def test_negated_or_doubted_remission_is_never_ned(
    trigger: str, between: list[str], phrase: str, after: str
) -> None:
    """Invariant: a remission phrase under a negation trigger (a few words apart) is never
    NED, whatever follows; and with an uncertainty after it neither."""
    text = " ".join([trigger, *between, phrase]) + after
    assert text_reader().read(text).state is not NED, text
    assert text_reader().read(phrase + after).state is (NED if not after else UNDETERMINED)


def test_transition_c_needs_a_ned_that_was_written(
    knowledge: Knowledge, payer: PayerSchedule
) -> None:
    """Appendix A's NED results (SNOMED 260415000) written as text instead: "Not in complete
    remission" and "No evidence of disease progression" bill no Transition (c) in month 7;
    "No evidence of disease" bills it as the golden test does."""
    evaluator = Evaluator(knowledge, RuleSettings(), payer)
    bundle = json.loads((bundled_examples() / "appendix-a-folfox.json").read_text())

    def transitions(text: str) -> list[tuple[str, int | None]]:
        changed = copy.deepcopy(bundle)
        for entry in changed["entry"]:
            resource = entry["resource"]
            if "97509-4" in json.dumps(resource.get("code")):
                resource["valueCodeableConcept"] = {"text": text}
        resources = [e["resource"] for e in changed["entry"]]
        timeline = evaluator.timeline(patient_resources(resources), date(2026, 3, 3))
        return [(line.code, line.month) for line in timeline.lines if line.code.startswith("xx40")]

    assert transitions("No evidence of disease") == [("xx401", 7)]
    assert transitions("Not in complete remission") == []
    assert transitions("No evidence of disease progression") == []


def _data() -> dict[str, Any]:
    return copy.deepcopy(read_data_file("disease-status.toml"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["codes"][0].update(state="cured"), "codes[1].state: 'cured' is not one of"),
        (lambda d: d["codes"][0].update(system="loinc"), "codes[1].system: unknown system 'loinc'"),
        (lambda d: d["codes"].append(dict(d["codes"][0])), "code 260415000 listed twice"),
        (lambda d: d["text"]["concepts"][0].update(negated="maybe"),
         "text.concepts[1].negated: 'maybe' is not a state"),
        (lambda d: d["text"]["triggers"].update(window=0),
         "text.triggers.window must be a positive"),
    ],
)  # fmt: skip
def test_the_data_file_is_checked(change: Any, message: str) -> None:
    data = _data()
    change(data)
    with pytest.raises(KnowledgeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DiseaseStatusKnowledge.from_data(data)
