"""One patient under the payment models that hold them (value-and-models §15).

Each pack holding the patient on some days evaluates the whole record (its rules need the
history: CPOC's months count from the first treatment, an episode from its trigger) and keeps
the lines dated on its days — a line's date is its billing month's start (a New Patient
line's visit day), the day that prices it. A patient who changes payer mid-year thus has the
months before the change billed under the old model and the months after under the new one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from cpoc_fhir.engine.coverage import coverage_order_warnings
from cpoc_fhir.engine.episodes import Episode
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import DEFAULT_MODEL, BillingLine, ModelSpan, PatientTimeline
from cpoc_fhir.packs.base import (
    ModelEvaluator,
    MonthsEvaluator,
    PackCode,
    PackEnvironment,
    PaymentModelPack,
)
from cpoc_fhir.packs.registry import load_pack, pack_codes
from cpoc_fhir.packs.selection import model_spans
from cpoc_fhir.packs.settings import ModelSettings


@dataclass
class ModelEvaluation:
    """The packs a process uses, each bound once on first use."""

    environment: PackEnvironment  # data_file is filled in per pack
    settings: ModelSettings = field(default_factory=ModelSettings)
    forced: str | None = None  # one pack for every patient (``cpoc timeline --model``)
    _bound: dict[str, ModelEvaluator] = field(default_factory=dict, repr=False)

    def pack(self, pack_id: str) -> PaymentModelPack:
        return load_pack(pack_id, self.settings)

    def bound(self, pack_id: str) -> ModelEvaluator:
        evaluator = self._bound.get(pack_id)
        if evaluator is None:
            pack = self.pack(pack_id)
            data_file = self.settings.data_files.get(pack_id)
            env = PackEnvironment(
                knowledge=self.environment.knowledge,
                rules=self.environment.rules,
                cpoc_payer=self.environment.cpoc_payer,
                data_file=data_file or pack.default_data_file,
                locality=self.environment.locality,
            )
            evaluator = self._bound[pack_id] = pack.bind(env)
            pack_codes(pack_id, self.settings)  # the bound file's codes, known to code_entry
        return evaluator

    def codes(self, pack_id: str) -> Mapping[str, PackCode]:
        """The codes of pack ``pack_id`` as bound here (its ``[models] data_files`` file)."""
        return pack_codes(pack_id, self.settings)

    def spans(self, record: PatientRecord) -> tuple[ModelSpan, ...]:
        return model_spans(record, self.settings, self.forced)

    def evaluate(
        self, record: PatientRecord, as_of: date, months: Collection[date] | None = None
    ) -> PatientTimeline:
        """The patient's lines. ``months`` (billing-month starts): the caller reads only the
        lines of those months and the New Patient line, so a pack that can bill only those
        (``MonthsEvaluator``: CPOC) may leave the others out — for a patient one such pack
        holds on every day; otherwise (several packs) everything is evaluated as always."""
        timeline = self._evaluate(record, as_of, months)
        extra = () if self.forced is not None else coverage_order_warnings(record)
        if not extra:
            return timeline
        return replace(timeline, warnings=tuple(dict.fromkeys((*timeline.warnings, *extra))))

    def _evaluate(
        self, record: PatientRecord, as_of: date, months: Collection[date] | None
    ) -> PatientTimeline:
        spans = self.spans(record)
        # One pack on every day (one span, or several of the same pack: an unmapped Coverage
        # after days with none) is that pack's own timeline, its §14.3 notice kept.
        if len({s.model for s in spans}) == 1:
            span = spans[0]
            evaluator = self.bound(span.model)
            if months is not None and isinstance(evaluator, MonthsEvaluator):
                timeline = evaluator.evaluate_months(record, as_of, spans, months)
            else:
                timeline = evaluator.evaluate(record, as_of, spans)
            # CPOC for all time by default, for one reason: the timeline keeps its original
            # shape. Days of several reasons (selection.py joins them with "; ") stay shown.
            if (
                len(spans) == 1
                and span.model == DEFAULT_MODEL
                and span.reason.startswith("default")
                and "; " not in span.reason
            ):
                return timeline
            return _with(timeline, timeline.lines, spans, timeline.fee_for_service)
        return self._combined(record, as_of, spans)

    def _combined(
        self, record: PatientRecord, as_of: date, spans: tuple[ModelSpan, ...]
    ) -> PatientTimeline:
        lines: list[BillingLine] = []
        warnings: list[str] = []
        episodes: list[Episode] = []
        for model in dict.fromkeys(s.model for s in spans):
            own = tuple(s for s in spans if s.model == model)
            timeline = self.bound(model).evaluate(record, as_of, own)
            lines.extend(line for line in timeline.lines if _held(own, line.start))
            episodes.extend(e for e in timeline.episodes if _held(own, e.start))
            warnings.extend(timeline.warnings)
            if timeline.fee_for_service is not None:
                short = self.pack(model).short_name
                warnings.append(
                    f"{short} days: billed fee-for-service ({timeline.fee_for_service})"
                )
        lines.sort(key=BillingLine.sort_key)
        unique = tuple(dict.fromkeys(warnings))
        return PatientTimeline(
            record.patient_ref,
            as_of,
            tuple(lines),
            unique,
            models=spans,
            episodes=tuple(sorted(episodes, key=lambda e: (e.start, e.model))),
        )


def _held(spans: tuple[ModelSpan, ...], day: date) -> bool:
    return any(s.holds(day) for s in spans)


def _with(
    timeline: PatientTimeline,
    lines: tuple[BillingLine, ...],
    spans: tuple[ModelSpan, ...],
    fee_for_service: str | None,
) -> PatientTimeline:
    return PatientTimeline(
        timeline.patient_ref,
        timeline.as_of,
        lines,
        timeline.warnings,
        fee_for_service=fee_for_service,
        models=spans,
        episodes=timeline.episodes,
    )
