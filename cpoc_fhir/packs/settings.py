"""The ``[models]`` settings: which payment-model pack bills which payer (value-and-models §15).

```toml
[models]
default = "cpoc"                     # records without a mapped Coverage (CPOC_MODELS_DEFAULT)
payers = { "Organization/cms" = "eom", "http://example.org/payer-id|acme" = "cpoc" }
packs = { "flat" = "my_practice.flat_pack" }   # a practice's own packs: id → module with PACK
data_files = { "eom" = "eom-2026.toml" }      # a pack's data file instead of its shipped one
```

A payer is named as ``Coverage.payor`` names it (fhir/read/coverages.py): its reference, else
"system|value" of its identifier, else its display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_PACK = "cpoc"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ModelSettings:
    default: str = DEFAULT_PACK
    payers: Mapping[str, str] = field(default_factory=_empty)
    packs: Mapping[str, str] = field(default_factory=_empty)
    data_files: Mapping[str, str] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        # Frozen and hashable-free of caller dicts: a caller's later change cannot leak in.
        for name in ("payers", "packs", "data_files"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
