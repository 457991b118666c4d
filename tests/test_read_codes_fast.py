"""The fast code tests (values.codes, values.has_code) against their definition via codings.

``codes`` walks the Codings directly and ``has_code`` answers without building a set (issue 16
item 4); both must answer exactly what the slow definition over ``codings`` answers, for any
JSON a concept may hold, wrong types included.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.fhir.read.values import SNOMED_SYSTEMS, codes, codings, concept_words, has_code

_SYSTEMS = ["http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96", "http://loinc.org"]
_CODES = ["394593009", "385763009", "", "x"]
# Any JSON value, including the wrong types a malformed export carries (lists as systems…).
_junk = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.just({}))
_coding = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "system": st.one_of(st.sampled_from(_SYSTEMS), _junk),
            "code": st.one_of(st.sampled_from(_CODES), _junk),
            "display": st.one_of(st.text(max_size=3), _junk),
        },
    ),
    _junk,
)
_concept = st.one_of(
    _junk,
    st.fixed_dictionaries(
        {}, optional={"coding": st.one_of(st.lists(_coding, max_size=4), _coding)}
    ),
    _coding,  # a lone Coding (Encounter.class)
)


def _slow_codes(concept: object, systems: frozenset[str] | str) -> set[str]:
    wanted = {systems} if isinstance(systems, str) else set(systems)
    return {code for system, code, _ in codings(concept) if code and system in wanted}


@settings(max_examples=300, deadline=None)  # no timing: a shared 2-core machine
@given(_concept, st.sampled_from([SNOMED_SYSTEMS, "http://loinc.org", ("http://loinc.org",)]))
def test_codes_is_the_slow_definition(concept: object, systems: object) -> None:
    assert codes(concept, systems) == _slow_codes(concept, systems)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(_concept, st.sets(st.sampled_from(_CODES)))
def test_has_code_is_the_set_intersection(concept: object, among: set[str]) -> None:
    expected = bool(_slow_codes(concept, SNOMED_SYSTEMS) & among)
    assert has_code(concept, SNOMED_SYSTEMS, among) is expected


def test_has_code_examples() -> None:
    # Hand-written: Medical oncology (SNOMED 394593009) under either SNOMED system URI.
    oncology = frozenset({"394593009"})
    concept = {"coding": [{"system": "http://loinc.org", "code": "394593009"}]}
    assert not has_code(concept, SNOMED_SYSTEMS, oncology)  # right code, wrong system
    concept["coding"].append({"system": "urn:oid:2.16.840.1.113883.6.96", "code": "394593009"})
    assert has_code(concept, SNOMED_SYSTEMS, oncology)
    assert not has_code(
        {"coding": [{"system": ["x"], "code": "394593009"}]}, SNOMED_SYSTEMS, oncology
    )
    assert has_code(
        {"system": "http://snomed.info/sct", "code": "394593009"}, SNOMED_SYSTEMS, oncology
    )


def _former_concept_words(concept: object) -> str:
    """concept_words before it walked the Codings itself (through ``codings``)."""
    if not isinstance(concept, dict):
        return ""
    parts = [concept.get("text")] + [display for _, _, display in codings(concept)]
    return " ".join(part for part in parts if isinstance(part, str)).lower()


_texted = st.one_of(
    _concept,
    st.fixed_dictionaries(
        {"text": st.one_of(st.text(max_size=6), _junk)},
        optional={"coding": st.one_of(st.lists(_coding, max_size=3), _coding)},
    ),
)


@settings(max_examples=400, deadline=None)
@given(_texted)
def test_concept_words_is_the_former_definition(concept: object) -> None:
    assert concept_words(concept) == _former_concept_words(concept)


def test_concept_words_by_hand() -> None:
    concept = {"text": "Hospice", "coding": [{"display": "Medical ONCOLOGY"}, {"code": "x"}, 3]}
    assert concept_words(concept) == "hospice medical oncology"
    assert concept_words({"display": "Lone Coding", "code": "AMB"}) == "lone coding"
    assert concept_words({"text": 5}) == "" and concept_words(None) == ""
