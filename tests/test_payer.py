"""Amounts (cpoc-rules §1): base × rv/100 × gpci × (1 + vba), Decimal, rounded half up."""

from decimal import Decimal

import pytest

from cpoc_fhir.errors import KnowledgeError
from cpoc_fhir.packs.cpoc.payer import PayerSchedule


def schedule(**payer: object) -> PayerSchedule:
    data = {"payer": {"id": "p", "name": "P", "new_patient_amount": "1000.00", **payer}}
    return PayerSchedule.from_data(data)


@pytest.mark.parametrize(
    ("code", "amount"),
    [
        ("xx100", "1000.00"),
        ("xx201", "250.00"),
        ("xx202", "430.00"),
        ("xx203", "610.00"),
        ("xx204", "800.00"),
        ("xx301", "20.00"),
        ("xx302", "100.00"),
        ("xx303", "250.00"),
        ("xx401", "300.00"),
        ("xx402", "500.00"),
        ("xx500", "50.00"),
    ],
)
def test_relative_values(code: str, amount: str) -> None:
    assert schedule().amount(code) == Decimal(amount)


def test_gpci_and_value_based_adjustment_round_half_up() -> None:
    # 333.33 × 2 % = 6.6666 → × 1.05 = 6.99993 → 7.00 ; half-up case below
    s = schedule(new_patient_amount="333.33", gpci="1.05", value_based_adjustment="0")
    assert s.amount("xx301") == Decimal("7.00")
    # 1 × 25 % = 0.25 ; × 1.1 = 0.275 → 0.28 (half up, not banker's 0.28/0.27)
    s = schedule(new_patient_amount="1", gpci="1.1")
    assert s.amount("xx201") == Decimal("0.28")
    s = schedule(new_patient_amount="1000", value_based_adjustment="-0.02")
    assert s.amount("xx100") == Decimal("980.00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("new_patient_amount", "-5", "positive"),
        ("new_patient_amount", "abc", "not a number"),
        ("gpci", "0", "positive"),
        ("value_based_adjustment", "2", "fraction"),
        ("id", "", "payer.id"),
    ],
)
def test_bad_payer_files_name_the_field(field: str, value: str, message: str) -> None:
    with pytest.raises(KnowledgeError, match=message):
        schedule(**{field: value})


def test_payer_codes_must_be_cpoc_codes() -> None:
    data = {
        "payer": {"id": "p", "name": "P", "new_patient_amount": "1"},
        "codes": {"xx999": {"system": "s", "code": "c"}},
    }
    with pytest.raises(KnowledgeError, match="xx999"):
        PayerSchedule.from_data(data)
