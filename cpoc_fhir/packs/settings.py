"""The ``[models]`` settings: which payment-model pack bills which payer (value-and-models §15).

```toml
[models]
default = "cpoc"                     # records without a mapped Coverage (CPOC_MODELS_DEFAULT)
payers = { "Organization/cms" = "eom", "http://example.org/payer-id|acme" = "cpoc" }
packs = { "flat" = "my_practice.flat_pack" }   # a practice's own packs: id → module with PACK
data_files = { "eom" = "eom-2026.toml" }      # a pack's data file instead of its shipped one

# A payer whose model changed over time: dated entries (``from``/``to`` inclusive, either may
# be left out: open-ended). Days of such a payer outside every entry fall to the built-in pack
# "none" (no payment model: fee-for-service only, no lines) — not to ``default``: Medicare
# between OCM (to 2022-06-30) and EOM (from 2023-07-01) paid fee-for-service, not CPOC.
[models.payers]
"Organization/medicare" = [
  { model = "ocm", from = 2016-07-01, to = 2022-06-30 },
  { model = "eom", from = 2023-07-01 },
]
```

A payer is named as ``Coverage.payor`` names it (fhir/read/coverages.py): its reference, else
"system|value" of its identifier, else its display.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from cpoc_fhir.errors import InputError

DEFAULT_PACK = "cpoc"
NO_MODEL = "none"  # the built-in pack of days no payment model holds (packs/no_model)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PayerPeriod:
    """One dated entry of a payer: pack ``model`` on the days ``start``–``end`` (inclusive)."""

    model: str
    start: date | None = None  # None: since ever
    end: date | None = None  # None: open

    def holds(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        left = self.start.isoformat() if self.start else "…"
        right = self.end.isoformat() if self.end else "…"
        return f"{self.model} {left} – {right}"


@dataclass(frozen=True)
class ModelSettings:
    default: str = DEFAULT_PACK
    # payer → a pack id, or its dated entries (read from TOML/JSON as a list of tables with
    # ``model``, ``from``, ``to``; kept as a tuple of PayerPeriod, sorted by start).
    payers: Mapping[str, str | tuple[PayerPeriod, ...]] = field(default_factory=_empty)
    packs: Mapping[str, str] = field(default_factory=_empty)
    data_files: Mapping[str, str] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        # Frozen and hashable-free of caller dicts: a caller's later change cannot leak in.
        payers = {str(k): _payer_entries(str(k), v) for k, v in dict(self.payers).items()}
        object.__setattr__(self, "payers", MappingProxyType(payers))
        for name in ("packs", "data_files"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def payer_models(self, payer: str) -> tuple[str, ...]:
        """Every pack ``payer`` is mapped to (none when it is not listed)."""
        entry = self.payers.get(payer)
        if entry is None:
            return ()
        return (entry,) if isinstance(entry, str) else tuple(p.model for p in entry)

    def boundaries(self, payer: str) -> set[date]:
        """The first days where ``payer``'s dated entries start or stop holding."""
        entry = self.payers.get(payer)
        if entry is None or isinstance(entry, str):
            return set()
        cuts = {p.start for p in entry if p.start is not None}
        after = {p.end + timedelta(days=1) for p in entry if p.end and p.end < date.max}
        return cuts | after


def _payer_entries(payer: str, value: Any) -> str | tuple[PayerPeriod, ...]:
    where = f"[models] payers {payer!r}"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and all(isinstance(p, PayerPeriod) for p in value):
        periods = value
    elif isinstance(value, list | tuple) and value:
        periods = tuple(_period(where, i, item) for i, item in enumerate(value))
    else:
        raise InputError(where, "expected a pack id or a list of {model, from, to} entries")
    ordered = tuple(sorted(periods, key=lambda p: p.start or date.min))
    for before, after in itertools.pairwise(ordered):
        if before.end is None or after.start is None or after.start <= before.end:
            raise InputError(where, f"entries overlap: {before.describe()} and {after.describe()}")
    return ordered


def _period(where: str, index: int, item: Any) -> PayerPeriod:
    at = f"entry {index + 1}"
    if isinstance(item, PayerPeriod):
        return item
    if not isinstance(item, Mapping):
        raise InputError(where, f"{at}: expected a table {{ model, from, to }}, got {item!r}")
    unknown = sorted(set(item) - {"model", "from", "to"})
    if unknown:
        raise InputError(where, f"{at}: unknown key(s) {', '.join(unknown)} (model, from, to)")
    model = item.get("model")
    if not isinstance(model, str) or not model:
        raise InputError(where, f"{at}: 'model' must name a pack")
    start, end = _day(where, at, item.get("from")), _day(where, at, item.get("to"))
    if start is not None and end is not None and end < start:
        raise InputError(where, f"{at}: 'to' {end.isoformat()} is before 'from' {start}")
    return PayerPeriod(model, start, end)


def _day(where: str, at: str, value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(where, f"{at}: {value!r} is not a date (YYYY-MM-DD)")
