"""Service categories of the shared savings (§13.2): each claim type placed by the shipped
illustrative grouping, the rules' order, the context read from the claims, and the settings
and categories files' errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpoc_fhir.economics.categories import (
    UNCATEGORISED,
    ItemContext,
    categories_from_data,
    item_contexts,
    load_categories,
)
from cpoc_fhir.economics.claims import ClaimLine
from cpoc_fhir.economics.savings_inputs import load_settings, settings_from_data
from cpoc_fhir.errors import InputError

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
NDC = "http://hl7.org/fhir/sid/ndc"
CATEGORIES = load_categories()


def line(code: str, system: str = CPT) -> ClaimLine:
    return ClaimLine("p", date(2025, 3, 3), system, code, Decimal(1), Decimal(1), "x", "paid")


INSTITUTIONAL_IN = ItemContext(claim_type="institutional", claim_subtype="inpatient")
INSTITUTIONAL_OUT = ItemContext(claim_type="institutional", claim_subtype="outpatient")
PROFESSIONAL = ItemContext(claim_type="professional", place_of_service="11")


@pytest.mark.parametrize(
    "code, system, context, expected",
    [
        # Professional claims, by CPT/HCPCS section.
        ("85025", CPT, PROFESSIONAL, "laboratory"),  # CBC: pathology and laboratory
        ("36415", CPT, PROFESSIONAL, "laboratory"),  # venipuncture (Clinical Lab Fee Schedule)
        ("0037U", CPT, PROFESSIONAL, "laboratory"),  # a proprietary laboratory analysis
        ("74177", CPT, PROFESSIONAL, "imaging"),  # CT abdomen and pelvis with contrast
        ("77067", CPT, PROFESSIONAL, "imaging"),  # screening mammography
        ("78815", CPT, PROFESSIONAL, "imaging"),  # PET/CT
        ("77412", CPT, PROFESSIONAL, "radiation"),  # radiation treatment delivery
        ("79101", CPT, PROFESSIONAL, "radiation"),  # radiopharmaceutical therapy, IV
        ("G6015", HCPCS, PROFESSIONAL, "radiation"),  # IMRT delivery
        ("J9263", HCPCS, PROFESSIONAL, "oncolytic-drugs"),  # oxaliplatin
        ("J8520", HCPCS, PROFESSIONAL, "oncolytic-drugs"),  # capecitabine, oral
        ("Q5117", HCPCS, PROFESSIONAL, "oncolytic-drugs"),  # trastuzumab-anns
        ("J0640", HCPCS, PROFESSIONAL, "supportive-drugs"),  # leucovorin (not a J9 code)
        ("J2505", HCPCS, PROFESSIONAL, "supportive-drugs"),  # pegfilgrastim
        ("J8540", HCPCS, PROFESSIONAL, "supportive-drugs"),  # dexamethasone, oral
        ("Q5108", HCPCS, PROFESSIONAL, "supportive-drugs"),  # pegfilgrastim-jmdb
        ("99284", CPT, PROFESSIONAL, "emergency"),  # emergency department visit
        ("99223", CPT, PROFESSIONAL, "hospital"),  # initial hospital inpatient care
        ("99213", CPT, PROFESSIONAL, UNCATEGORISED),  # office visit: the practice's own
        ("96413", CPT, PROFESSIONAL, UNCATEGORISED),  # chemotherapy administration
        ("0500T", CPT, PROFESSIONAL, UNCATEGORISED),  # Category III: not a PLA code
        ("85025", "http://example.org/local", PROFESSIONAL, UNCATEGORISED),  # not CPT
        ("00002-1433-80", NDC, ItemContext(claim_type="pharmacy"), UNCATEGORISED),
        # Place of service on a professional claim.
        ("99499", CPT, ItemContext(claim_type="professional", place_of_service="23"), "emergency"),
        ("99499", CPT, ItemContext(claim_type="professional", place_of_service="21"), "hospital"),
        ("G0000", HCPCS, ItemContext(place_of_service="81"), "laboratory"),
        # Institutional claims: an inpatient stay is hospital whatever the line says.
        ("85025", CPT, INSTITUTIONAL_IN, "hospital"),
        ("J9263", HCPCS, INSTITUTIONAL_IN, "hospital"),
        # Outpatient institutional: by revenue code, else hospital facility.
        ("99284", CPT, INSTITUTIONAL_OUT, "emergency"),
        ("74177", CPT, INSTITUTIONAL_OUT, "imaging"),
        ("J9263", HCPCS, INSTITUTIONAL_OUT, "oncolytic-drugs"),
        ("G0463", HCPCS, INSTITUTIONAL_OUT, "hospital"),  # clinic visit facility fee
    ],
)
def test_each_claim_type_is_placed(
    code: str, system: str, context: ItemContext, expected: str
) -> None:
    assert CATEGORIES.place(line(code, system), context) == expected


@pytest.mark.parametrize(
    "revenue, expected",
    [
        ("0450", "emergency"),
        ("0301", "laboratory"),
        ("0351", "imaging"),
        ("0611", "imaging"),
        ("0333", "radiation"),
        ("0120", "hospital"),
        ("0206", "hospital"),
        ("0510", "hospital"),  # clinic: the institutional fallback
    ],
)
def test_revenue_codes_of_an_outpatient_claim(revenue: str, expected: str) -> None:
    context = ItemContext(claim_type="institutional", claim_subtype="outpatient", revenue=revenue)
    # A code no CPT/HCPCS rule knows, so the revenue code decides.
    assert CATEGORIES.place(line("99499"), context) == expected


def test_item_context_is_read_from_the_claim() -> None:
    eob: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": "e1",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "institutional",
                }
            ]
        },
        "subType": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/"
                    "C4BBInstitutionalClaimSubType",
                    "code": "outpatient",
                }
            ]
        },
        "item": [
            {"sequence": 3, "revenue": {"coding": [{"code": "450"}]}},
            {"locationCodeableConcept": {"coding": [{"code": "23"}]}},
            {"sequence": 5, "revenue": "not a concept"},
        ],
    }
    found = item_contexts([eob, {"resourceType": "Patient", "id": "p"}])
    assert found == {
        # A three-digit revenue code is the four-digit one with its leading zero.
        "ExplanationOfBenefit/e1#item3": ItemContext("institutional", "outpatient", "0450", None),
        # No sequence: the item's position (as the claims reader numbers it).
        "ExplanationOfBenefit/e1#item2": ItemContext("institutional", "outpatient", None, "23"),
        # An element of the wrong type leaves only that part unknown.
        "ExplanationOfBenefit/e1#item5": ItemContext("institutional", "outpatient", None, None),
    }


def test_first_matching_rule_wins() -> None:
    data = {
        "service_categories": {"id": "t", "source": "test"},
        "categories": {"a": "A", "b": "B"},
        "rules": [
            {"category": "a", "codes": ["J9263"]},
            {"category": "b", "codes": ["J9000-J9999"]},
        ],
    }
    found = categories_from_data(data, "t.toml")
    assert found.place(line("J9263", HCPCS), ItemContext()) == "a"
    assert found.place(line("J9264", HCPCS), ItemContext()) == "b"
    assert found.place(line("J92630", HCPCS), ItemContext()) == UNCATEGORISED  # other shape


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rules": [{"category": "z", "codes": ["1"]}]}, "rules[0].category: 'z'"),
        ({"rules": [{"category": "a"}]}, "rules[0]: give at least one"),
        ({"rules": [{"category": "a", "codes": ["J9999-J9000"]}]}, "not a range"),
        ({"rules": [{"category": "a", "codes": ["J9000-99"]}]}, "not a range"),
        ({"rules": [{"category": "a", "cpt": ["1"]}]}, "unknown field 'cpt'"),
        ({"rules": [{"category": "a", "codes": "J9000"}]}, "rules[0].codes must be a non-empty"),
        ({"service_categories": {"id": "t"}}, "service_categories.source is required"),
    ],
)
def test_bad_categories_file_names_the_field(change: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "service_categories": {"id": "t", "source": "test"},
        "categories": {"a": "A"},
        "rules": [{"category": "a", "codes": ["1"]}],
    } | change
    with pytest.raises(InputError) as error:
        categories_from_data(data, "t.toml")
    assert "t.toml" in str(error.value) and message in str(error.value)


def test_shipped_file_names_the_seven_categories_and_is_illustrative() -> None:
    assert list(CATEGORIES.labels) == [
        "laboratory",
        "imaging",
        "hospital",
        "emergency",
        "oncolytic-drugs",
        "radiation",
        "supportive-drugs",
    ]
    assert CATEGORIES.illustrative and CATEGORIES.source


def test_settings_defaults_and_choices(tmp_path: Path) -> None:
    default = load_settings(None)
    assert (default.minimum_savings_rate, default.share) == (Decimal("0.02"), Decimal("0.50"))
    assert len(default.included) == 7 and not default.excluded
    chosen = settings_from_data(
        {"savings": {"categories": ["imaging", "laboratory", "emergency"], "enhanced_care": True}},
        "s.toml",
        tmp_path,
    )
    # In the file's order; emergency excluded by the enhanced-care supplement (§13.1).
    assert chosen.included == ("laboratory", "imaging")
    assert chosen.exclusions["emergency"].startswith("the enhanced-care supplement")
    assert chosen.exclusions["oncolytic-drugs"].startswith("not in the agreed range")


@pytest.mark.parametrize(
    "table, message",
    [
        ({"share": "1.5"}, "savings.share must be a fraction 0-1"),
        ({"minimum_savings_rate": "x"}, "savings.minimum_savings_rate is not a number"),
        ({"categories": ["dental"]}, "savings.categories: 'dental'"),
        ({"categories": ["emergency"], "enhanced_care": True}, "no category left"),
        ({"enhanced_care": "yes"}, "savings.enhanced_care must be true or false"),
        ({"msr": "0.02"}, "savings.msr: unknown setting"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, table: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as error:
        settings_from_data({"savings": table}, "s.toml", tmp_path)
    assert message in str(error.value)
