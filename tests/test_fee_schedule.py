"""The fee schedule file: loading, errors naming file and field, pricing of items with none."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_claims import CPT, HCPCS, charge_item, eob, eob_item

from cpoc_fhir.economics.charges import collect_charges
from cpoc_fhir.economics.fee_schedule import load_fee_schedule
from cpoc_fhir.errors import InputError
from cpoc_fhir.fhir.read import ResourceListSource

SCHEDULE = """\
[fee_schedule]
id = "test-pfs"
name = "Test schedule"
source = "illustrative (test figures)"
date = "2025-01-01"
illustrative = true
currency = "USD"

[codes."99213"]
system = "http://www.ama-assn.org/go/cpt"
amount = "92.03"
display = "Established patient office visit, level 3"

[codes.J9263]
system = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
amount = "0.27"
unit = "0.5 mg"
"""


def write(tmp_path: Path, text: str, name: str = "fees.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_header_and_prices_amount_times_units(tmp_path: Path) -> None:
    schedule = load_fee_schedule(write(tmp_path, SCHEDULE))
    assert schedule.header() == {
        "id": "test-pfs",
        "name": "Test schedule",
        "source": "illustrative (test figures)",
        "date": "2025-01-01",
        "illustrative": True,
        "currency": "USD",
        "codes": 2,
    }
    assert schedule.on == date(2025, 1, 1)
    # J9263 at 0.27 per 0.5 mg × 170 units (85 mg) = 45.90
    assert schedule.price(HCPCS, "J9263", Decimal(170)) == Decimal("45.90")
    # CPT and HCPCS are one namespace: a CPT entry prices a Blue Button HCPCS-coded item.
    assert schedule.price(HCPCS, "99213", Decimal(1)) == Decimal("92.03")
    assert schedule.price(CPT, "99214", Decimal(1)) is None
    assert schedule.price("http://example.org/local", "99213", Decimal(1)) is None


def test_json_form(tmp_path: Path) -> None:
    text = (
        '{"fee_schedule": {"id": "j", "source": "illustrative"},'
        f' "codes": {{"96413": {{"system": "{CPT}", "amount": 135.71}}}}}}'
    )
    schedule = load_fee_schedule(write(tmp_path, text, "fees.json"))
    assert schedule.price(CPT, "96413", Decimal(2)) == Decimal("271.42")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('amount = "92.03"\n', ""), "codes.99213.amount is required"),
        (lambda t: t.replace('"92.03"', '"-1"'), "codes.99213.amount must not be negative"),
        (lambda t: t.replace('"0.27"', '"a lot"'), "codes.J9263.amount is not a number"),
        (lambda t: t.replace('date = "2025-01-01"', 'date = "Jan 2025"'), "fee_schedule.date"),
        (lambda t: t.replace('id = "test-pfs"\n', ""), "fee_schedule.id is required"),
        (lambda t: t.replace("illustrative = true", 'illustrative = "yes"'), "illustrative"),
        (lambda t: t.replace("[fee_schedule]", "[fees]"), "missing [fee_schedule] table"),
        (
            lambda t: t.replace('system = "http://www.ama-assn.org/go/cpt"\n', ""),
            "codes.99213.system",
        ),
        (lambda t: t + "[extra]\n", "unknown table 'extra'"),
        (lambda t: t + "[codes.J9035\n", "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, change, message: str) -> None:
    path = write(tmp_path, change(SCHEDULE))
    with pytest.raises(InputError) as caught:
        load_fee_schedule(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_fee_schedule(tmp_path / "absent.toml")


def test_fee_schedule_prices_only_items_without_an_amount(tmp_path: Path) -> None:
    schedule = load_fee_schedule(write(tmp_path, SCHEDULE))
    resources = [
        {"resourceType": "Patient", "id": "p1"},
        charge_item("c1", "p1", "99213", price=None),  # priced: 92.03
        charge_item("c2", "p1", "99213", price=80.00),  # its own price wins
        eob("e1", "p1", eob_item(1, "J9263", None, system=HCPCS, units=170)),  # 45.90
        eob("e2", "p1", eob_item(1, "99215", None)),  # no price anywhere: counted, warned
    ]
    charges = collect_charges(
        ResourceListSource(resources), schedule, date(2025, 1, 1), date(2025, 12, 31)
    )
    assert {line.evidence: (line.amount, line.basis) for line in charges.by_patient["p1"]} == {
        "ChargeItem/c1": (Decimal("92.03"), "fee-schedule"),
        "ChargeItem/c2": (Decimal("80.0"), "charge"),
        "ExplanationOfBenefit/e1#item1": (Decimal("45.90"), "fee-schedule"),
    }
    assert charges.unpriced_json() == {"items": 1, "byCode": {"99215": 1}}
    assert charges.unpriced_warnings() == [
        "1 item(s) of code 99215 have no amount and no fee-schedule price; left out of the "
        "revenue (e.g. ExplanationOfBenefit/e2#item1)"
    ]
