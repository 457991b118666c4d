"""§10: the 58 replaced FFS codes and the conflicts they make once xx100 is billed."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import Runner
from factories import cancer, cycles, record, visit

from cpoc_fhir.packs.cpoc.ffs import CONSULTATION_CODES, REPLACED_CODES, FfsCharge, ffs_conflicts


def test_the_ii_d_table_lists_16_em_and_43_other_codes() -> None:
    # The proposal's text says "58 ... (16 E&M codes and 42 ...)", but its II-D table lists 43
    # administration/procedure codes; the table is implemented as printed.
    assert len(REPLACED_CODES) == 59
    assert len([c for c in REPLACED_CODES if c.startswith("992")]) == 16
    assert not REPLACED_CODES & CONSULTATION_CODES


@pytest.mark.parametrize(
    ("code", "replaced"),
    [
        ("99213", True),
        ("96413", True),
        ("36415", True),
        ("79403", True),
        ("96361", True),
        ("99244", False),
        ("99254", False),
        ("96362", False),
        ("99217", False),
    ],
)
def test_replaced_or_not(code: str, replaced: bool) -> None:
    assert (code in REPLACED_CODES) is replaced


def test_conflicts_are_charges_in_cpoc_months(run: Runner) -> None:
    facts = {
        "diagnoses": [cancer()],
        "exposures": cycles(("docetaxel",), "2025-02-01", 21, 3),
        "visits": [visit("2025-01-20")],
    }
    timeline = run(record(**facts), "2025-05-15")
    charges = [
        FfsCharge("ChargeItem/before", "99204", date(2025, 1, 10)),  # before New Patient
        FfsCharge("ChargeItem/np-day", "99204", date(2025, 1, 20)),  # same day as xx100
        FfsCharge("ChargeItem/admin", "96413", date(2025, 2, 1)),  # month 1
        FfsCharge("ChargeItem/consult", "99244", date(2025, 2, 3)),  # consultation: allowed
        FfsCharge("Claim/x#1", "99214", date(2025, 3, 20)),  # month 2
    ]
    conflicts = ffs_conflicts(charges, timeline.lines)
    assert [(c.charge.ref, c.line.code[:4], c.line.month) for c in conflicts] == [
        ("ChargeItem/np-day", "xx10", None),
        ("ChargeItem/admin", "xx20", 1),
        ("Claim/x#1", "xx20", 2),
    ]
    assert "96413" in conflicts[1].reason and "II-D" in conflicts[1].reason


def test_no_conflict_without_a_new_patient_line(run: Runner) -> None:
    timeline = run(record(diagnoses=[cancer()], visits=[visit("2025-01-20")]), "2025-05-15")
    assert (
        ffs_conflicts([FfsCharge("ChargeItem/a", "99213", date(2025, 2, 1))], timeline.lines) == []
    )
