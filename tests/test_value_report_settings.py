"""The ``[value]`` table of the settings file (value-and-models §12 *(config)* items)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cpoc_fhir.config import load_config
from cpoc_fhir.errors import InputError
from cpoc_fhir.value.settings import ValueSettings


def test_defaults_without_a_value_table() -> None:
    assert load_config(None, {}).value == ValueSettings()


def test_the_value_table_and_its_variables(tmp_path: Path) -> None:
    path = tmp_path / "cpoc.toml"
    path.write_text(
        "[value]\nminimum_denominator = 5\npathway_reason_share = 0.75\n"
        "trial_deviations_excluded = false\n"
    )
    value = load_config(path, {}).value
    assert (value.minimum_denominator, value.pathway_reason_share) == (5, Decimal("0.75"))
    assert value.trial_deviations_excluded is False
    env = {"CPOC_VALUE_ER_WINDOW_DAYS": "14", "CPOC_VALUE_MEDICAL_HOME": "yes"}
    value = load_config(path, env).value
    assert (value.er_window_days, value.medical_home, value.minimum_denominator) == (14, True, 5)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[value]\nminimum_denominatr = 5\n", {}, "[value] minimum_denominatr: unknown setting"),
        ("[value]\nminimum_denominator = 'ten'\n", {}, "expected a whole number"),
        ("[value]\npathway_reason_share = 80\n", {}, "pathway_reason_share must be in (0, 1]"),
        ("", {"CPOC_VALUE_NOPE": "1"}, "CPOC_VALUE_NOPE: unknown variable"),
        ("", {"CPOC_VALUE_ER_WEIGHT_OTHER": "x"}, "CPOC_VALUE_ER_WEIGHT_OTHER: expected a number"),
    ],
)
def test_bad_value_settings_are_refused(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "cpoc.toml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        load_config(path, env)
    assert message in str(raised.value)
