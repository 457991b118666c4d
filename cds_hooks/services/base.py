"""What a CDS service is (discovery entry + handler) and what every handler is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cds_hooks.cards import Card, CardSource
from cds_hooks.gather import ClientFactory, fhir_client, prefetch_templates
from cds_hooks.hook_request import HookRequest
from cds_hooks.record_cache import RecordCache
from cds_hooks.settings import CdsSettings, WriteTarget
from cpoc_fhir import __version__
from cpoc_fhir.fhir.client import FhirClient
from cpoc_fhir.fhir.write import PublishSettings
from cpoc_fhir.pathways.model import PathwayLibrary
from cpoc_fhir.service import Evaluator
from cpoc_fhir.store.hooks import CardRecord
from cpoc_fhir.store.pathways import PathwayDecision

# Spec §Extensions: a service description may carry an ``extension`` object whose members are
# named by reverse-domain notation; the version is no first-class discovery field, so it goes
# there (the cards' kind uses the same namespace: ``org.cpoc-fhir.card-kind``).
VERSION_EXTENSION = "org.cpoc-fhir.version"


@dataclass(frozen=True)
class Runtime:
    """Built once per app and shared by every call (immutable: no per-request state)."""

    evaluator: Evaluator
    publish: PublishSettings
    settings: CdsSettings
    now: Callable[[], datetime]  # time-zone aware, in the practice's zone
    clients: ClientFactory = fhir_client
    write_client: Callable[[WriteTarget], FhirClient] | None = None
    pathways: PathwayLibrary | None = None  # None: no pathway cards
    # order hooks' record and timelines per exact input (record_cache.py); None: off
    record_cache: RecordCache | None = None

    def today(self) -> date:
        return self.now().date()


@dataclass
class HookResult:
    cards: list[Card] = field(default_factory=list)
    system_actions: list[dict[str, Any]] = field(default_factory=list)
    audit_cards: list[CardRecord] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)  # ids and outcomes only
    pathway_decisions: list[PathwayDecision] = field(default_factory=list)


Handler = Callable[[Runtime, HookRequest, CardSource], HookResult]


@dataclass(frozen=True)
class CdsService:
    id: str
    hook: str
    title: str
    description: str
    handler: Handler
    usage_requirements: str = ""

    def discovery(self) -> dict[str, Any]:
        """This service's entry in ``GET /cds-services`` (spec §Discovery)."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": prefetch_templates(),
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        entry["extension"] = {VERSION_EXTENSION: __version__}
        return entry
