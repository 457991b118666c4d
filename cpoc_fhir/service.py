"""One way from a FHIR record to billing lines, used by the CLI, the hooks and the capture run.

Each patient is billed under the payment-model pack their payer selects (value-and-models
§15; packs/selection.py): CPOC unless the ``[models]`` settings say otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date

from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.fhir.read import PatientResources, ReaderSettings, RecordSource, read_record
from cpoc_fhir.fhir.read.gc_pass import relaxed_gc
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.packs.base import PackEnvironment
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.evaluate import ModelEvaluation
from cpoc_fhir.packs.settings import ModelSettings


@dataclass(frozen=True)
class Evaluator:
    """Knowledge, rules, payer and reader settings, bound once; evaluates patients."""

    knowledge: Knowledge
    rules: RuleSettings
    payer: PayerSchedule
    reader: ReaderSettings = field(default_factory=ReaderSettings)
    models: ModelSettings = field(default_factory=ModelSettings)  # payer → pack (§15)
    forced_model: str | None = None  # one pack for every patient (``--model``)
    model_evaluation: ModelEvaluation = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The packs, each bound on first use; built once per evaluator (frozen: set here).
        env = PackEnvironment(self.knowledge, self.rules, self.payer, locality=self.payer.locality)
        evaluation = ModelEvaluation(env, self.models, self.forced_model)
        object.__setattr__(self, "model_evaluation", evaluation)

    def timeline(
        self, resources: PatientResources, as_of: date, include_drafts: bool = False
    ) -> PatientTimeline:
        return self.evaluate(self.record(resources, include_drafts), as_of)

    def record(self, resources: PatientResources, include_drafts: bool = False) -> PatientRecord:
        """The patient's facts (``include_drafts``: a hook's draft orders count)."""
        return read_record(resources, self.knowledge, self.reader, include_drafts=include_drafts)

    def evaluate(
        self, record: PatientRecord, as_of: date, months: Collection[date] | None = None
    ) -> PatientTimeline:
        """The patient's lines as known on ``as_of``; ``months``: only the lines of the
        billing months starting on those days (and New Patient) are needed
        (ModelEvaluation.evaluate: other months may then be left out)."""
        return self.model_evaluation.evaluate(record, as_of, months)

    def timelines(
        self, source: RecordSource, as_of: date, patient_ids: set[str] | None = None
    ) -> Iterator[PatientTimeline]:
        with relaxed_gc():  # one pass over many patients (fhir/read/gc_pass.py: why)
            for resources in source.patients(patient_ids):
                yield self.timeline(resources, as_of)
