"""Settings, built once: defaults → a TOML file → environment ``CPOC_*`` → command line.

Nothing deeper in the package reads the environment; the result is passed down.

File (``--config FILE`` or ``CPOC_CONFIG``)::

    [rules]                      # RuleSettings fields (cpoc-rules *(config)* items)
    charlson_weights = "quan2011"
    surveillance_horizon_by_cancer = { breast = 120 }
    cpoc_cancer_types = ["lung", "breast"]   # value-and-models §14.3; default: every type
    [billing]
    payer_file = "payer.toml"
    locality = "01"              # the practice's GPCI locality in the payer file (§13.3)
    [publish]                    # PublishSettings: canonical URLs and the practice's references
    codesystem_url = "https://fhir.example-oncology.org/CodeSystem/cpoc"
    performing_organization = "Organization/our-practice"
    [pathways]                   # the practice's own pathway files (TOML or PlanDefinition JSON)
    dir = "pathways"
    replace = false              # true: only the practice's pathways, none of the shipped ones
    [value]                      # ValueSettings fields (value-and-models §12 *(config)* items)
    minimum_denominator = 10
    pathway_reason_share = 0.80

Environment: ``CPOC_RULES_<FIELD>`` (e.g. ``CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS=60``),
``CPOC_PUBLISH_<FIELD>``, ``CPOC_VALUE_<FIELD>``, ``CPOC_PAYER_FILE``, ``CPOC_PAYER_LOCALITY``,
``CPOC_PATHWAYS_DIR`` and
``CPOC_PATHWAYS_REPLACE``.

Unknown tables, settings and variables of those prefixes are refused, and so is a value of the
wrong type, each naming the setting, the value and what is expected (``settings_values.py``):
a misspelt setting silently ignored would bill on the default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import InputError, KnowledgeError
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge.loader import load_knowledge, read_data_file
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.registry import check_settings
from cpoc_fhir.packs.settings import ModelSettings
from cpoc_fhir.settings_values import (
    ReadEnviron,
    SettingValueError,
    check_value,
    parse_text,
    shown,
    unknown_name,
)
from cpoc_fhir.value.settings import ValueSettings

EXAMPLE_PAYER = "payer-example.toml"
MEI_FILE = "mei.toml"


@dataclass(frozen=True)
class Config:
    rules: RuleSettings
    payer_file: Path | None  # None: the shipped illustrative example
    publish: PublishSettings = dataclasses.field(default_factory=PublishSettings)
    pathways_dir: Path | None = None  # the practice's pathway files, added to the shipped ones
    pathways_replace: bool = False  # the practice's files replace the shipped pathways
    payer_locality: str | None = None  # selects the payer file's GPCI (None: the file's own)
    value: ValueSettings = dataclasses.field(default_factory=ValueSettings)  # §12 (config)
    models: ModelSettings = dataclasses.field(default_factory=ModelSettings)  # §15 payer → pack


# The file's tables and the names each accepts (RuleSettings and PublishSettings: their fields).
_TABLES: dict[str, tuple[str, ...]] = {
    "rules": tuple(f.name for f in dataclasses.fields(RuleSettings)),
    "billing": ("payer_file", "locality"),
    "publish": tuple(f.name for f in dataclasses.fields(PublishSettings)),
    "pathways": ("dir", "replace"),
    "value": tuple(f.name for f in dataclasses.fields(ValueSettings)),
    "models": tuple(f.name for f in dataclasses.fields(ModelSettings)),
}
# The variables load_config reads; any other of these prefixes is refused as unknown.
_ENV_PREFIXES = ("CPOC_RULES_", "CPOC_PUBLISH_", "CPOC_PATHWAYS_", "CPOC_VALUE_", "CPOC_MODELS_")
_OTHER_TYPES: dict[str, Any] = {
    "payer_file": str,
    "locality": str,
    "dir": str,
    "replace": bool,
}


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build the settings from defaults, an optional file and the environment.

    A setting of the wrong type or an unknown table, setting or ``CPOC_RULES_*`` /
    ``CPOC_PUBLISH_*`` / ``CPOC_PATHWAYS_*`` variable raises ``InputError`` naming it, the
    value and what is expected."""
    env = ReadEnviron(os.environ if environ is None else environ)
    path = path or (Path(env["CPOC_CONFIG"]) if env.get("CPOC_CONFIG") else None)
    data = _checked_file(path) if path is not None else {}
    rules = _section(path, data, "rules", RuleSettings, env)
    publish = _section(path, data, "publish", PublishSettings, env)
    value = _section(path, data, "value", ValueSettings, env)
    models = _section(path, data, "models", ModelSettings, env)
    billing, pathways = data.get("billing", {}), data.get("pathways", {})
    payer = env.get("CPOC_PAYER_FILE") or billing.get("payer_file")
    locality = env.get("CPOC_PAYER_LOCALITY") or billing.get("locality")
    directory = _env_value(env, "CPOC_PATHWAYS_DIR", str) or pathways.get("dir")
    replace = _env_value(env, "CPOC_PATHWAYS_REPLACE", bool)
    env.refuse_unknown(_ENV_PREFIXES)
    try:
        rule_settings = RuleSettings(**rules)
        publish_settings = PublishSettings(**publish)
        value_settings = _value_settings(value)
        model_settings = _model_settings(models, path)
    except (TypeError, ValueError) as exc:
        # What the settings' own checks say (each names its field and the allowed values),
        # under the variable that gave the value, else the file.
        field = str(exc).split(" ", 1)[0].rpartition(".")[2]
        variables = [v for v in env.read if v.endswith(f"_{field.upper()}") and env.get(v)]
        where = variables[0] if variables else str(path or "settings")
        raise InputError(where, f"invalid setting: {exc}") from None
    _check_cancer_types(rule_settings, env, path)
    return Config(
        rules=rule_settings,
        payer_file=_beside(path, payer),
        publish=publish_settings,
        pathways_dir=_beside(path, directory),
        pathways_replace=bool(pathways.get("replace", False)) if replace is None else replace,
        payer_locality=locality or None,
        value=value_settings,
        models=model_settings,
    )


def _model_settings(values: dict[str, Any], path: Path | None) -> ModelSettings:
    """§15: the packs named exist, and each data file is read beside the settings file."""
    files = values.get("data_files", {})
    values["data_files"] = {k: str(_beside(path, v)) for k, v in files.items()}
    settings = ModelSettings(**values)
    try:
        check_settings(settings)
    except InputError as exc:
        raise ValueError(f"ModelSettings: {exc}") from None
    return settings


def _value_settings(values: dict[str, Any]) -> ValueSettings:
    """ValueSettings, with the checks the dataclass leaves to its loader: a share is a
    fraction (0, 1], a weight is ≥ 0."""
    settings = ValueSettings(**values)
    share = settings.pathway_reason_share
    if not 0 < share <= 1:
        raise ValueError(f"ValueSettings.pathway_reason_share must be in (0, 1], not {share}")
    for name in ("er_weight_near_treatment", "er_weight_other"):
        if getattr(settings, name) < 0:
            raise ValueError(f"ValueSettings.{name} must be 0 or more")
    return settings


def _check_cancer_types(rules: RuleSettings, env: ReadEnviron, path: Path | None) -> None:
    """§14.3: each CPOC cancer type must be one the condition lists produce (a misspelt
    type would bill its patients fee-for-service)."""
    known = load_knowledge().conditions.cancer_types
    for name in rules.cpoc_cancer_types or ():
        if name not in known:
            variable = "CPOC_RULES_CPOC_CANCER_TYPES"
            where = variable if env.get(variable) else str(path or "settings")
            message = unknown_name(name, known, "cancer type")
            raise InputError(where, f"[rules] cpoc_cancer_types: {name!r}: {message}")


def _checked_file(path: Path) -> dict[str, Any]:
    """The settings file, every table and name known and every value of its type."""
    data = _read_toml(path)
    for table, value in data.items():
        if table not in _TABLES:
            what = f"[{table}]" if isinstance(value, dict) else f"{table} (outside any table)"
            tables = ", ".join(f"[{t}]" for t in _TABLES)
            raise InputError(str(path), f"{what}: unknown table (expected {tables})")
        if not isinstance(value, dict):
            raise InputError(str(path), f"{table}: expected a table [{table}], got {shown(value)}")
        for name in value:
            if name not in _TABLES[table]:
                message = unknown_name(name, _TABLES[table], "setting")
                raise InputError(str(path), f"[{table}] {name}: {message}")
    for table in ("billing", "pathways"):
        for name, item in data.get(table, {}).items():
            _check(path, f"[{table}] {name}", item, _OTHER_TYPES[name])
    return data


def _section(
    path: Path | None, data: Mapping[str, Any], table: str, kind: type, env: ReadEnviron
) -> dict[str, Any]:
    """Table ``table``'s values for the dataclass ``kind``, checked, and over them those of
    the variables ``CPOC_<TABLE>_<FIELD>``."""
    hints = typing.get_type_hints(kind)
    values = {
        name: _check(path, f"[{table}] {name}", item, hints[name])
        for name, item in data.get(table, {}).items()
    }
    for field in dataclasses.fields(kind):
        variable = f"CPOC_{table.upper()}_{field.name.upper()}"
        value = _env_value(env, variable, hints[field.name])
        if value is not None:
            values[field.name] = value
    return values


def _check(path: Path | None, setting: str, value: Any, annotation: Any) -> Any:
    try:
        return check_value(value, annotation)
    except SettingValueError as exc:
        raise InputError(str(path) if path else "settings file", f"{setting}: {exc}") from None


def _env_value(env: ReadEnviron, name: str, annotation: Any) -> Any:
    text = env.get(name)
    if text is None:
        return None
    try:
        return parse_text(text, annotation)
    except SettingValueError as exc:
        raise InputError(name, str(exc)) from None


def _beside(path: Path | None, value: str | None) -> Path | None:
    """A file named in the settings file: relative to that file."""
    if not value:
        return None
    found = Path(value)
    return path.parent / found if path is not None and not found.is_absolute() else found


def load_payer(path: Path | None, locality: str | None = None) -> PayerSchedule:
    """A payer file (TOML or JSON), or the shipped illustrative example; ``locality`` (the
    setting) selects its GPCI, and years whose base is derived read the MEI (§13.3)."""
    index = inflation_index()
    if path is None:
        data = read_data_file(EXAMPLE_PAYER)
        return PayerSchedule.from_data(data, EXAMPLE_PAYER, locality, index)
    data = read_payer_data(path)
    try:
        return PayerSchedule.from_data(data, str(path), locality, index)
    except KnowledgeError as exc:
        raise InputError(str(path), str(exc).removeprefix(f"{path}: ")) from None


def read_payer_data(path: Path) -> dict[str, Any]:
    """A payer file's parsed data (``.json``: JSON, anything else: TOML), decimals exact."""
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except OSError as exc:
            raise InputError(str(path), f"cannot read payer file: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(str(path), "a payer file is an object at the top level")
        return data
    return _read_toml(path)


def inflation_index() -> dict[int, Decimal]:
    """The Medicare Economic Index by calendar year (knowledge/data/mei.toml, with sources)."""
    data = read_data_file(MEI_FILE)
    try:
        return {int(year): Decimal(entry["value"]) for year, entry in data["years"].items()}
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise KnowledgeError(f"knowledge file {MEI_FILE}: years.YYYY.value: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"not valid TOML: {exc}") from None
