"""Settings: a bad value or an unknown name, in the file or in a ``CPOC_*`` variable, is refused
with one line naming the setting, the value and what is expected (never a Python message)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.settings import load_cds_settings, load_review_settings
from cpoc_fhir.cli import main
from cpoc_fhir.config import load_config
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import InputError

# Python's own messages that used to reach the user.
LEAKS = ("not supported between", "__init__", "unexpected keyword", "Traceback", "NoneType")


def refused(file_text: str | None, environ: dict[str, str], tmp_path: Path) -> str:
    path = None
    if file_text is not None:
        path = tmp_path / "cpoc.toml"
        path.write_text(file_text)
    with pytest.raises(InputError) as caught:
        load_config(path, environ)
    message = str(caught.value)
    assert not any(leak in message for leak in LEAKS), message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[rules]\nperformance_lookback_days = "90"',
            "[rules] performance_lookback_days: expected a whole number ≥ 0, got '90' (text)",
        ),
        (
            "[rules]\nperformance_lookback_days = -1",
            "[rules] performance_lookback_days: expected a whole number ≥ 0, got -1",
        ),
        (
            "[rules]\nperformance_lookback_days = 9.5",
            "[rules] performance_lookback_days: expected a whole number ≥ 0, got Decimal('9.5')",
        ),
        (
            "[rules]\nperformance_lookbak_days = 60",
            "[rules] performance_lookbak_days: unknown setting "
            "(did you mean performance_lookback_days?)",
        ),
        (
            '[rules]\nhospice_physician_is_practice_oncologist = "yes"',
            "[rules] hospice_physician_is_practice_oncologist: expected true or false, "
            "got 'yes' (text)",
        ),
        (
            '[rules]\nsurveillance_horizon_by_cancer = { breast = "ten years" }',
            "[rules] surveillance_horizon_by_cancer: breast: expected a whole number ≥ 0, "
            "got 'ten years' (text)",
        ),
        (
            "[rules]\nsurveillance_horizon_by_cancer = 120",
            "[rules] surveillance_horizon_by_cancer: expected a table of names to values, got 120",
        ),
        (
            '[rules]\ncharlson_weights = "quan"',
            "invalid setting: charlson_weights must be one of ('charlson1987', 'quan2011'), "
            "got 'quan'",
        ),
        (
            "[rule]\nx = 1",
            "[rule]: unknown table (expected [rules], [billing], [publish], [pathways], [value], "
            "[models])",
        ),
        ("lookback = 1", "lookback (outside any table): unknown table"),
        ("rules = 3", "rules: expected a table [rules], got 3"),
        (
            "[publish]\ncodesystem_url = 3",
            "[publish] codesystem_url: expected text (in quotes), got 3",
        ),
        (
            '[publish]\ncodesytem_url = "https://x.example/cs"',
            "[publish] codesytem_url: unknown setting (did you mean codesystem_url?)",
        ),
        (
            '[billing]\npayer = "p.toml"',
            "[billing] payer: unknown setting (did you mean payer_file?)",
        ),
        ("[billing]\npayer_file = 1", "[billing] payer_file: expected text (in quotes), got 1"),
        (
            '[pathways]\nreplace = "no"',
            "[pathways] replace: expected true or false, got 'no' (text)",
        ),
        ("[pathways]\nfolder = 'p'", "[pathways] folder: unknown setting (known: dir, replace)"),
    ],
)
def test_a_bad_settings_file_is_refused_naming_setting_value_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = refused(text, {}, tmp_path)
    assert message.startswith(f"{tmp_path / 'cpoc.toml'}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS",
            "ninety",
            "CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS: expected a whole number ≥ 0, got 'ninety'",
        ),
        (
            "CPOC_RULES_PERFORMANCE_LOOKBACK",
            "60",
            "CPOC_RULES_PERFORMANCE_LOOKBACK: unknown variable "
            "(did you mean CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS?)",
        ),
        (
            "CPOC_RULES_SURVEILLANCE_HORIZON_BY_CANCER",
            "breast=120",
            "CPOC_RULES_SURVEILLANCE_HORIZON_BY_CANCER: expected a JSON object such as "
            "{\"breast\": 120}, got 'breast=120'",
        ),
        (
            "CPOC_RULES_SURVEILLANCE_HORIZON_BY_CANCER",
            '{"breast": "x"}',
            "CPOC_RULES_SURVEILLANCE_HORIZON_BY_CANCER: breast: expected a whole number ≥ 0",
        ),
        (
            "CPOC_RULES_HOSPICE_PHYSICIAN_IS_PRACTICE_ONCOLOGIST",
            "maybe",
            "CPOC_RULES_HOSPICE_PHYSICIAN_IS_PRACTICE_ONCOLOGIST: expected on or off "
            "(true/false, 1/0), got 'maybe'",
        ),
        (
            "CPOC_RULES_CHARLSON_WEIGHTS",
            "quan",
            "CPOC_RULES_CHARLSON_WEIGHTS: invalid setting: charlson_weights must be one of",
        ),
        ("CPOC_PATHWAYS_REPLACE", "maybe", "CPOC_PATHWAYS_REPLACE: expected on or off"),
        (
            "CPOC_PATHWAYS_DIRECTORY",
            "p",
            "CPOC_PATHWAYS_DIRECTORY: unknown variable (did you mean CPOC_PATHWAYS_DIR?)",
        ),
        (
            "CPOC_PUBLISH_CODESYSTEM",
            "https://x.example/cs",
            "CPOC_PUBLISH_CODESYSTEM: unknown variable (did you mean CPOC_PUBLISH_CODESYSTEM_URL?)",
        ),
        (
            "CPOC_PUBLISH_CODESYSTEM_URL",
            "not a url",
            "CPOC_PUBLISH_CODESYSTEM_URL: invalid setting: PublishSettings.codesystem_url must be",
        ),
    ],
)
def test_a_bad_or_unknown_variable_is_refused_naming_it(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    assert refused(None, {name: value}, tmp_path).startswith(expected)


def test_the_cds_and_review_loaders_refuse_their_unknown_variables() -> None:
    with pytest.raises(InputError) as cds:
        load_cds_settings({"CPOC_CDS_AUTH": "off", "CPOC_CDS_CORS_ORIGIN": "https://a.example"})
    assert str(cds.value) == (
        "CPOC_CDS_CORS_ORIGIN: unknown variable (did you mean CPOC_CDS_CORS_ORIGINS?)"
    )
    with pytest.raises(InputError) as review:
        load_review_settings({"CPOC_REVIEW_CLIENTID": "app"})
    assert str(review.value).startswith(
        "CPOC_REVIEW_CLIENTID: unknown variable (did you mean CPOC_REVIEW_CLIENT_ID?)"
    )
    # Variables of other parts are not theirs to judge.
    assert not load_cds_settings({"CPOC_CDS_AUTH": "off", "CPOC_RULES_X": "1"}).auth_enabled
    assert not load_review_settings({"CPOC_CDS_AUTH": "off"}).enabled


def test_good_settings_load_and_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cpoc.toml"
    path.write_text(
        "[rules]\n"
        'charlson_weights = "quan2011"\n'
        "performance_lookback_days = 30\n"
        "hospice_physician_is_practice_oncologist = true\n"
        "surveillance_horizon_by_cancer = { breast = 120 }\n"
        "[billing]\n"
        'payer_file = "payer.toml"\n'
        "[publish]\n"
        'performing_organization = "Organization/our-practice"\n'
        "[pathways]\n"
        'dir = "pathways"\n'
        "replace = true\n"
    )
    environ = {
        "CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS": "60",
        "CPOC_RULES_SURVEILLANCE_HORIZON_BY_CANCER": '{"lung": 24}',
        "CPOC_PATHWAYS_REPLACE": "off",
        "CPOC_CDS_AUTH": "off",  # another loader's: not refused here
    }
    config = load_config(path, environ)
    assert config.rules.charlson_weights == "quan2011"
    assert config.rules.performance_lookback_days == 60
    assert config.rules.hospice_physician_is_practice_oncologist is True
    assert dict(config.rules.surveillance_horizon_by_cancer) == {"lung": 24}
    assert config.payer_file == tmp_path / "payer.toml"
    assert config.publish.performing_organization == "Organization/our-practice"
    assert config.pathways_dir == tmp_path / "pathways"
    assert config.pathways_replace is False
    assert load_config(None, {}) == load_config(None, {"CPOC_CONFIG": ""})


def test_the_cli_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cpoc.toml"
    path.write_text('[rules]\nperformance_lookback_days = "90"\n')
    for args in (["--config", str(path), "timeline"], ["timeline", "--config", str(path)]):
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            f"cpoc: {path}: [rules] performance_lookback_days: expected a whole number ≥ 0, "
            "got '90' (text)\n"
        )


# --- any value of any rule setting: loaded, or refused by name ------------------------------
def toml_value(value: Any) -> str:
    """A TOML inline value (test-side encoder: strings as JSON strings are TOML basic ones)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    pairs = (f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items())
    return "{" + ", ".join(pairs) + "}"


scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.decimals(-1000, 1000, places=2),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text("abcxyz", min_size=1, max_size=6), scalars, max_size=3),
)
FIELDS = [f.name for f in dataclasses.fields(RuleSettings)]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(FIELDS), value=values)
def test_any_rule_value_loads_or_is_refused_naming_its_setting(
    tmp_path: Path, name: str, value: Any
) -> None:
    path = tmp_path / "any.toml"
    path.write_text(f"[rules]\n{name} = {toml_value(value)}\n")
    try:
        config = load_config(path, {})
    except InputError as exc:
        message = str(exc)
        assert name in message and not any(leak in message for leak in LEAKS), message
    else:
        assert getattr(config.rules, name) == value or isinstance(value, dict)
