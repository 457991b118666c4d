"""The payment-model packs the product knows: one line per pack (value-and-models §15).

A pack is a module defining ``PACK`` (packs/base.py). Built-in packs are listed here; a
practice adds its own through the ``[models] packs`` setting (id → module), with no change to
the product. Modules are imported on first use, so a pack nobody selects costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from cpoc_fhir.errors import InputError
from cpoc_fhir.packs.base import PackCode, PaymentModelPack
from cpoc_fhir.packs.settings import ModelSettings

BUILTIN_PACKS: Mapping[str, str] = {
    "cpoc": "cpoc_fhir.packs.cpoc.pack",
    "eom": "cpoc_fhir.packs.eom.pack",
    "ocm": "cpoc_fhir.packs.ocm.pack",
    "cpcplus": "cpoc_fhir.packs.cpcplus.pack",
    "none": "cpoc_fhir.packs.no_model.pack",
}

_LOADED: dict[str, PaymentModelPack] = {}  # module → pack
# id → pack of every pack loaded so far: a line's pack is found by its id alone (a ChargeItem
# built for a practice's pack, whose module only the settings name).
_BY_ID: dict[str, PaymentModelPack] = {}
# (pack id, data file) → the codes that file gives the pack (pack_codes).
_CODES: dict[tuple[str, str | None], Mapping[str, PackCode]] = {}


def pack_modules(settings: ModelSettings | None = None) -> dict[str, str]:
    """Every pack id → its module: the built-in ones, then the practice's."""
    modules = dict(BUILTIN_PACKS)
    if settings is not None:
        for pack_id, module in settings.packs.items():
            if pack_id in BUILTIN_PACKS and module != BUILTIN_PACKS[pack_id]:
                raise InputError(
                    "[models] packs", f"{pack_id!r} is a built-in pack; give yours another id"
                )
            modules[pack_id] = module
    return modules


def load_pack(pack_id: str, settings: ModelSettings | None = None) -> PaymentModelPack:
    """The pack ``pack_id``; ``InputError`` naming the known ids when there is none."""
    modules = pack_modules(settings)
    module_name = modules.get(pack_id)
    if module_name is None and settings is None and pack_id in _BY_ID:
        return _BY_ID[pack_id]
    if module_name is None:
        known = ", ".join(sorted(modules))
        raise InputError("payment model", f"{pack_id!r} is not a known pack (known: {known})")
    cached = _LOADED.get(module_name)
    if cached is not None:
        return cached
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(
            "[models] packs", f"{pack_id}: cannot import {module_name}: {exc}"
        ) from None
    pack = getattr(module, "PACK", None)
    if not isinstance(pack, PaymentModelPack):
        raise InputError("[models] packs", f"{module_name} defines no PACK (a PaymentModelPack)")
    if pack.id != pack_id:
        raise InputError("[models] packs", f"{module_name}'s PACK is {pack.id!r}, not {pack_id!r}")
    _LOADED[module_name] = pack
    _BY_ID[pack_id] = pack
    return pack


def all_packs(settings: ModelSettings | None = None) -> list[PaymentModelPack]:
    return [load_pack(pack_id, settings) for pack_id in pack_modules(settings)]


def check_settings(settings: ModelSettings) -> None:
    """Every pack the settings name exists (a misspelt pack would bill on the default)."""
    load_pack(settings.default, settings)
    for payer in settings.payers:
        for pack_id in settings.payer_models(payer):
            try:
                load_pack(pack_id, settings)
            except InputError as exc:
                raise InputError(f"[models] payers {payer!r}", exc.problem) from None
    for pack_id in settings.data_files:
        load_pack(pack_id, settings)


def pack_codes(model: str, settings: ModelSettings | None = None) -> Mapping[str, PackCode]:
    """Pack ``model``'s codes as bound with the settings' data file (``[models] data_files``;
    none, or no settings: the shipped file's). Read once per (pack, file) and remembered, so
    ``code_entry`` without settings also knows a code an overriding file gave the process."""
    pack = load_pack(model, settings)
    data_file = settings.data_files.get(model) if settings is not None else None
    key = (model, data_file or pack.default_data_file)
    codes = _CODES.get(key)
    if codes is None:
        codes = _CODES[key] = pack.codes_of(data_file)
    return codes


def code_entry(code: str, model: str, settings: ModelSettings | None = None) -> PackCode | None:
    """The entry of ``code`` in pack ``model`` (None when the pack has no such code).

    With settings: the codes of the data file they bind the pack with. Without: the shipped
    file's codes, then those of any data file this process bound the pack with (a ChargeItem
    built for a line whose code an overriding file set)."""
    if settings is not None:
        return pack_codes(model, settings).get(code)
    entry = load_pack(model).codes.get(code)
    if entry is not None:
        return entry
    for (pack_id, _), codes in list(_CODES.items()):
        if pack_id == model and code in codes:
            return codes[code]
    return None
