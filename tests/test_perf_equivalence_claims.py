"""The one-go reader of plain Claim / ExplanationOfBenefit items (economics/claims_fast.py)
gives exactly what the checked reader gives: the same lines, skips and warnings, for well-formed
items and for every kind of wrong element (the reference path: the same ``read_claims`` with the
one-go reader switched off, so every resource goes through ``fhir.read.access``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpoc_fhir.economics import claims
from cpoc_fhir.economics.claims import read_claims

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
NDC = "http://hl7.org/fhir/sid/ndc"
BENEFIT = {"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "benefit"}
PAID_TO = {
    "system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication",
    "code": "paidtoprovider",
}
SUBMITTED = {"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}

# Values each element may take: the plain ones, and wrong FHIR types the checked reader refuses.
numbers = st.one_of(
    st.integers(-5, 500),
    st.floats(-5, 500, allow_nan=False).map(lambda f: round(f, 2)),
    st.just(float("nan")),
    st.just("12.5"),
    st.just(True),
    st.none(),
)
days = st.sampled_from(
    ["2025-03-04", "2025-03", "2025", "2025-02-30", "not a date", 20250304, None]
)
codings = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from([CPT, HCPCS, NDC, "urn:local", 7, None]),
        "code": st.sampled_from(["99214", "J9263", "96413", "0002-1234", "", 99214, None]),
        "display": st.sampled_from(["a visit", 3]),
    },
)
concepts = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "coding": st.one_of(st.lists(codings, max_size=3), codings, st.just("x")),
            "text": st.sampled_from(["t", 1]),
        },
    ),
    st.just([]),
    st.none(),
)
money = st.one_of(
    st.fixed_dictionaries({"value": numbers}, optional={"currency": st.just("USD")}),
    st.just(5),
    st.none(),
)
categories = st.sampled_from([BENEFIT, PAID_TO, SUBMITTED, {"code": "benefit"}])
adjudications = st.fixed_dictionaries(
    {},
    optional={
        "category": st.one_of(
            st.fixed_dictionaries({"coding": st.lists(categories, min_size=1, max_size=2)}),
            st.just({"coding": [{"system": 1}]}),
            st.just("benefit"),
        ),
        "amount": money,
    },
)
quantities = st.one_of(
    st.fixed_dictionaries({}, optional={"value": numbers, "unit": st.sampled_from(["mg", 2])}),
    st.just(3),
    st.none(),
)
items = st.fixed_dictionaries(
    {},
    optional={
        "sequence": st.sampled_from([1, 2, 7, True, "3", None]),
        "servicedDate": days,
        "servicedPeriod": st.one_of(st.fixed_dictionaries({"start": days}), st.just("x")),
        "productOrService": concepts,
        "quantity": quantities,
        "adjudication": st.one_of(st.lists(adjudications, max_size=3), adjudications, st.just(1)),
        "net": money,
        "unitPrice": money,
        "factor": numbers,
    },
)

# Plain items (what the one-go reader reads itself): valid values only, some left out.
plain_numbers = st.one_of(
    st.integers(0, 500), st.floats(0, 500, allow_nan=False).map(lambda f: round(f, 2))
)
plain_codings = st.fixed_dictionaries(
    {
        "system": st.sampled_from([CPT, HCPCS, NDC, "urn:local"]),
        "code": st.sampled_from(["99214", "J9263", "96413", "0002-1234", ""]),
    },
    optional={"display": st.just("a visit")},
)
plain_money = st.fixed_dictionaries({"value": plain_numbers})
plain_items = st.fixed_dictionaries(
    {
        "productOrService": st.fixed_dictionaries(
            {"coding": st.lists(plain_codings, min_size=1, max_size=3)}
        ),
    },
    optional={
        "sequence": st.sampled_from([1, 2, 7]),
        "servicedDate": st.sampled_from(["2025-03-04", "2025-03", "2025-07-01T10:00:00Z"]),
        "quantity": st.fixed_dictionaries({}, optional={"value": plain_numbers}),
        "adjudication": st.lists(
            st.fixed_dictionaries(
                {"category": st.fixed_dictionaries({"coding": st.lists(categories, max_size=2)})},
                optional={"amount": plain_money},
            ),
            max_size=3,
        ),
        "net": plain_money,
        "unitPrice": plain_money,
        "factor": plain_numbers,
    },
)
items = st.one_of(plain_items, plain_items, items)


def resource(kind: str, rid: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": kind, "id": f"r{rid}", "status": "active", **body}


bodies = st.fixed_dictionaries(
    {},
    optional={
        "billablePeriod": st.one_of(
            st.just({"start": "2025-02-01", "end": "2025-02-03"}),
            st.fixed_dictionaries({}, optional={"start": days, "end": days}),
            st.just([]),
        ),
        "item": st.one_of(st.lists(items, max_size=4), items, st.just("item")),
    },
)
plain_bodies = st.fixed_dictionaries(
    {
        "billablePeriod": st.just({"start": "2025-02-01", "end": "2025-02-03"}),
        "item": st.lists(plain_items, min_size=1, max_size=4),
    }
)
records = st.lists(
    st.tuples(st.sampled_from(["Claim", "ExplanationOfBenefit"]), st.one_of(plain_bodies, bodies)),
    min_size=1,
    max_size=4,
).map(lambda found: [resource(kind, n, body) for n, (kind, body) in enumerate(found)])


def checked(monkeypatch: pytest.MonkeyPatch, resources: list[dict[str, Any]]) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(claims, "plain_lines", lambda *_: None)  # the reference path only
        return read_claims("p1", resources)


def same(a: Any, b: Any) -> None:
    assert a.lines == b.lines
    # Decimal equality ignores the exponent; the JSON writes str(): compare those too.
    assert [(str(x.units), str(x.amount)) for x in a.lines] == [
        (str(x.units), str(x.amount)) for x in b.lines
    ]
    assert a.skipped == b.skipped
    assert a.warnings == b.warnings


@settings(max_examples=400, deadline=None)
@given(records)
def test_one_go_reader_is_the_checked_reader(resources: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        same(read_claims("p1", resources), checked(monkeypatch, resources))


def test_a_plain_eob_is_read_in_one_go_and_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    # One item, 2 units, paid 40.10 + 10 (two benefit adjudications add up: 50.10); the
    # submitted amount is never used.
    eob = resource(
        "ExplanationOfBenefit",
        1,
        {
            "billablePeriod": {"start": "2025-05-01"},
            "item": [
                {
                    "sequence": 3,
                    "productOrService": {
                        "coding": [{"system": NDC, "code": "1"}, {"system": CPT, "code": "99214"}]
                    },
                    "quantity": {"value": 2},
                    "adjudication": [
                        {"category": {"coding": [BENEFIT]}, "amount": {"value": 40.1}},
                        {"category": {"coding": [BENEFIT]}, "amount": {"value": 10}},
                        {"category": {"coding": [SUBMITTED]}, "amount": {"value": 99}},
                    ],
                }
            ],
        },
    )
    assert claims.plain_lines(eob, "ExplanationOfBenefit/r1", claims.PAID_CATEGORIES) is not None
    fast = read_claims("p1", [eob])
    (line,) = fast.lines
    assert (str(line.on), line.system, line.code, str(line.units), str(line.amount)) == (
        "2025-05-01",
        CPT,
        "99214",
        "2",
        "50.1",
    )
    assert line.evidence == "ExplanationOfBenefit/r1#item3" and line.basis == "paid"
    same(fast, checked(monkeypatch, [eob]))
