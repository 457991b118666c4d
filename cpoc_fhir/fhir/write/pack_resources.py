"""What ``cpoc fhir-resources`` publishes for the payment-model packs besides CPOC
(value-and-models §15): a ValueSet of each pack's codes, and the practice's own codes.

HCPCS codes (EOM's MEOS M0010, OCM's G-codes) are CMS's, not ours: a CodeSystem of them would
redefine another's system, and their prices come from each pack's data file by rules (year,
dual eligibility) no ChargeItemDefinition price component can carry. So a pack's codes are
published as a ValueSet (``ValueSet-pack-<id>.json``) that includes them from their own
system — HCPCS for MEOS — with the pack's name and source; the ChargeItems the product writes
carry the same codings (publish.py ``line_codings``). A pack code with no public system (a
practice's own or an illustrative code, ``PackCode.system`` None) is the practice's: it is a
concept of the practice CodeSystem (``[publish] codesystem_url``, the one CPOC's codes are
in), and the ValueSet includes it from there.

The codes are those of the data file each pack is bound with (``[models] data_files``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fhir.resources.R4B.valueset import ValueSet

from cpoc_fhir.engine.lines import DEFAULT_MODEL
from cpoc_fhir.fhir.write.publish import PublishSettings, Resource, compact, to_json, validated
from cpoc_fhir.packs.base import PackCode, PaymentModelPack
from cpoc_fhir.packs.registry import all_packs, pack_codes
from cpoc_fhir.packs.settings import ModelSettings


def published_packs(
    models: ModelSettings | None = None,
) -> list[tuple[PaymentModelPack, Mapping[str, PackCode]]]:
    """Every pack but CPOC (published by definitions.py) with the codes it is bound with;
    packs without codes (the "none" pack) are left out."""
    out = []
    for pack in all_packs(models):
        if pack.id == DEFAULT_MODEL:
            continue
        codes = pack_codes(pack.id, models)
        if codes:
            out.append((pack, codes))
    return out


def practice_concepts(models: ModelSettings | None = None) -> list[Resource]:
    """The packs' codes with no public system, as concepts of the practice CodeSystem."""
    concepts = []
    for pack, codes in published_packs(models):
        for entry in codes.values():
            if entry.system is not None:
                continue
            properties: list[Resource] = [{"code": "component", "valueCode": entry.component.value}]
            if entry.level is not None:
                properties.append({"code": "level", "valueInteger": entry.level})
            concepts.append(
                {
                    "code": entry.code,
                    "display": entry.display,
                    "definition": f"A code of the payment model {pack.name} ({pack.short_name}"
                    f", pack '{pack.id}'), priced by the pack's data file. Source: "
                    f"{pack.source or 'the pack'}.",
                    "property": properties,
                }
            )
    return concepts


def value_set_url(pack: PaymentModelPack, settings: PublishSettings) -> str:
    return f"{settings.canonical_root}/ValueSet/pack-{pack.id}"


def pack_value_set(
    pack: PaymentModelPack, codes: Mapping[str, PackCode], settings: PublishSettings
) -> Resource:
    """The ValueSet of one pack's codes, each included from its own system."""
    by_system: dict[str, list[Resource]] = {}
    for entry in codes.values():
        system = entry.system or settings.codesystem_url
        by_system.setdefault(system, []).append({"code": entry.code, "display": entry.display})
    resource = {
        "resourceType": "ValueSet",
        "id": f"pack-{pack.id}",
        "meta": {"tag": [settings.product_tag]},
        "url": value_set_url(pack, settings),
        "version": settings.version,
        "name": "".join(ch for ch in f"Pack{pack.short_name}Codes" if ch.isalnum()),
        "title": f"{pack.name} ({pack.short_name}): the codes its lines carry",
        "status": "active",
        "description": (
            f"The billing codes the payment model {pack.name} bills on the ChargeItems this "
            "product writes, each in its own code system (HCPCS codes are CMS's; a code no "
            "public system defines is in the practice CodeSystem). Amounts come from the "
            f"pack's data file, not from this ValueSet. Source: {pack.source or 'the pack'}."
        ),
        "compose": {
            "include": [
                {"system": system, "concept": concepts}
                for system, concepts in sorted(by_system.items())
            ]
        },
    }
    return validated(compact(resource), ValueSet, f"ValueSet pack-{pack.id}")


def write_pack_value_sets(
    settings: PublishSettings, out_dir: Path, models: ModelSettings | None = None
) -> list[Path]:
    """Write ValueSet-pack-<id>.json for each pack with codes; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for pack, codes in published_packs(models):
        resource = pack_value_set(pack, codes, settings)
        path = out_dir / f"ValueSet-{resource['id']}.json"
        path.write_text(to_json(resource, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
