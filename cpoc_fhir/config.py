"""Settings, built once: defaults → a TOML file → environment ``CPOC_*`` → command line.

Nothing deeper in the package reads the environment; the result is passed down.

File (``--config FILE`` or ``CPOC_CONFIG``)::

    [rules]                      # RuleSettings fields (cpoc-rules *(config)* items)
    charlson_weights = "quan2011"
    surveillance_horizon_by_cancer = { breast = 120 }
    [billing]
    payer_file = "payer.toml"
    [publish]                    # PublishSettings: canonical URLs and the practice's references
    codesystem_url = "https://fhir.example-oncology.org/CodeSystem/cpoc"
    performing_organization = "Organization/our-practice"
    [pathways]                   # the practice's own pathway files (TOML or PlanDefinition JSON)
    dir = "pathways"
    replace = false              # true: only the practice's pathways, none of the shipped ones

Environment: ``CPOC_RULES_<FIELD>`` (e.g. ``CPOC_RULES_PERFORMANCE_LOOKBACK_DAYS=60``),
``CPOC_PUBLISH_<FIELD>``, ``CPOC_PAYER_FILE``, ``CPOC_PATHWAYS_DIR`` and
``CPOC_PATHWAYS_REPLACE``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cpoc_fhir.engine.payer import PayerSchedule
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.errors import InputError, KnowledgeError
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.knowledge.loader import read_data_file

EXAMPLE_PAYER = "payer-example.toml"


@dataclass(frozen=True)
class Config:
    rules: RuleSettings
    payer_file: Path | None  # None: the shipped illustrative example
    publish: PublishSettings = dataclasses.field(default_factory=PublishSettings)
    pathways_dir: Path | None = None  # the practice's pathway files, added to the shipped ones
    pathways_replace: bool = False  # the practice's files replace the shipped pathways


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build the settings from defaults, an optional file and the environment."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    path = path or (Path(env["CPOC_CONFIG"]) if env.get("CPOC_CONFIG") else None)
    if path is not None:
        data = _read_toml(path)
    rules = dict(data.get("rules", {}))
    for field in dataclasses.fields(RuleSettings):
        value = env.get(f"CPOC_RULES_{field.name.upper()}")
        if value is not None:
            rules[field.name] = _parse_env(field.name, value, field.type)
    where = str(path) if path else "environment"
    try:
        rule_settings = RuleSettings(**_frozen(rules))
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"invalid [rules] setting: {exc}") from None
    publish = dict(data.get("publish", {}))
    for field in dataclasses.fields(PublishSettings):
        value = env.get(f"CPOC_PUBLISH_{field.name.upper()}")
        if value is not None:
            publish[field.name] = value
    try:
        publish_settings = PublishSettings(**publish)
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"invalid [publish] setting: {exc}") from None
    payer = env.get("CPOC_PAYER_FILE") or data.get("billing", {}).get("payer_file")
    payer_path = Path(payer) if payer else None
    if payer_path is not None and path is not None and not payer_path.is_absolute():
        payer_path = path.parent / payer_path
    section = data.get("pathways", {})
    pathways = env.get("CPOC_PATHWAYS_DIR") or section.get("dir")
    pathways_path = Path(pathways) if pathways else None
    if pathways_path is not None and path is not None and not pathways_path.is_absolute():
        pathways_path = path.parent / pathways_path
    replace = env.get("CPOC_PATHWAYS_REPLACE")
    return Config(
        rules=rule_settings,
        payer_file=payer_path,
        publish=publish_settings,
        pathways_dir=pathways_path,
        pathways_replace=(
            _parse_env("pathways_replace", replace, bool)
            if replace is not None
            else bool(section.get("replace", False))
        ),
    )


def load_payer(path: Path | None) -> PayerSchedule:
    """A payer file (TOML or JSON), or the shipped illustrative example."""
    if path is None:
        return PayerSchedule.from_data(read_data_file(EXAMPLE_PAYER), EXAMPLE_PAYER)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except OSError as exc:
            raise InputError(str(path), f"cannot read payer file: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"not valid JSON: {exc}") from None
    else:
        data = _read_toml(path)
    try:
        return PayerSchedule.from_data(data, str(path))
    except KnowledgeError as exc:
        raise InputError(str(path), str(exc).removeprefix(f"{path}: ")) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"not valid TOML: {exc}") from None


def _parse_env(name: str, value: str, annotation: Any) -> Any:
    text = str(annotation)
    if "bool" in text:
        return value.strip().lower() in ("1", "true", "yes", "on")
    if "int" in text and "Mapping" not in text:
        try:
            return int(value)
        except ValueError:
            raise InputError(
                f"CPOC_RULES_{name.upper()}", f"not a whole number: {value!r}"
            ) from None
    if "Mapping" in text:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise InputError(f"CPOC_RULES_{name.upper()}", "not a JSON object") from None
    return value


def _frozen(rules: dict[str, Any]) -> dict[str, Any]:
    return {k: MappingProxyType(dict(v)) if isinstance(v, dict) else v for k, v in rules.items()}
