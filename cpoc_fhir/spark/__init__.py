"""The Spark engine: ``cpoc timeline --engine spark`` and ``cpoc capture --engine spark``.

Bulk FHIR NDJSON (any Hadoop-compatible URI) is read as text, each resource keyed by its
patient (``keying``), grouped per patient, and the pure engine (``service.Evaluator``, the
payment-model packs of value-and-models §15) runs in the executors, one Evaluator per
partition (``partition``). Lines are written as Parquet (``schema``), ChargeItems as NDJSON.
Nothing here imports pyspark at module level except ``session`` and ``job``, and the rest of
the package never imports this one (the CLI does, only for ``--engine spark``).
"""
