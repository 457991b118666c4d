"""The adherence report on a generated practice, end to end: orders signed through
the real CDS Hooks service, feedback posted as an EHR would, then `cpoc report adherence` read
from the same store. The generator chooses each order's branch; the expected rates come from
its choices, never from the report."""

from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from cds_support import full_prefetch, hook_body, make_app
from flask.testing import FlaskClient
from pathway_support import Patient, colon, nsclc

from cpoc_fhir.cli import main

DAY = "2025-11-10"


def pathway_card(
    client: FlaskClient, patient: Patient, drafts: list[dict[str, Any]]
) -> dict[str, Any]:
    body = hook_body(
        "order-sign", patient.pid, drafts, full_prefetch(patient.resources, patient.pid)
    )
    response = client.post("/cds-services/cpoc-order-sign", json=body)
    assert response.status_code == 200
    [card] = [
        c
        for c in response.get_json()["cards"]
        if c["extension"]["org.cpoc-fhir.card-kind"] == "pathway"
    ]
    return card


def send(client: FlaskClient, entry: dict[str, Any]) -> None:
    entry["outcomeTimestamp"] = "2025-11-11T02:10:00Z"
    response = client.post("/cds-services/cpoc-order-sign/feedback", json={"feedback": [entry]})
    assert response.status_code == 200


def test_generated_practice_adherence_through_the_hooks(tmp_path: Path, monkeypatch: Any) -> None:
    rng = random.Random(20251110)
    client = make_app(tmp_path, today=DAY).test_client()
    expected: dict[str, dict[str, int]] = {
        "colon-adjuvant-stage3": {"on": 0, "off": 0, "reason": 0, "switched": 0},
        "nsclc-stage4-egfr": {"on": 0, "off": 0, "reason": 0, "switched": 0},
    }
    no_pathway = undetermined = 0
    # The practice: (branch, what the oncologist does with an off-pathway card), shuffled.
    cases = (
        [("colon-on", "")] * 5
        + [("colon-off", "reason")] * 2
        + [("colon-off", "silent")]
        + [("colon-off", "switch")]
        + [("egfr-on", "")] * 4
        + [("egfr-off", "reason")]
        + [("egfr-off", "silent")] * 2
        + [("egfr-off", "switch")]
        + [("melanoma", "")] * 2
        + [("unknown", "")] * 2
    )
    rng.shuffle(cases)
    for i, (branch, what) in enumerate(cases):
        pid = f"gen-{i}"
        if branch.startswith("colon"):
            patient = colon(pid)
            drugs = (
                ("oxaliplatin", "leucovorin", "fluorouracil")
                if branch == "colon-on"
                else ("irinotecan", "leucovorin", "fluorouracil")
            )
            pathway = "colon-adjuvant-stage3"
        elif branch.startswith("egfr"):
            patient = nsclc(pid).egfr(True).alk(False)
            drugs = (
                ("osimertinib",)
                if branch == "egfr-on"
                else ("carboplatin", "pemetrexed", "pembrolizumab")
            )
            pathway = "nsclc-stage4-egfr"
        elif branch == "melanoma":
            patient = Patient(pid).condition("C43.9", "Malignant melanoma of skin").ecog()
            drugs, pathway = ("pembrolizumab",), ""
        else:
            patient, drugs, pathway = nsclc(pid), ("pembrolizumab",), ""
        card = pathway_card(client, patient, patient.drafts(*drugs))
        if branch == "melanoma":
            no_pathway += 1
            continue
        if branch == "unknown":
            undetermined += 1
            continue
        if branch.endswith("-on"):
            expected[pathway]["on"] += 1
            continue
        if what == "reason":
            send(
                client,
                {
                    "card": card["uuid"],
                    "outcome": "overridden",
                    "overrideReason": {"reason": card["overrideReasons"][0]},
                },
            )
            expected[pathway]["off"] += 1
            expected[pathway]["reason"] += 1
        elif what == "silent":
            expected[pathway]["off"] += 1
        else:  # the oncologist takes the first on-pathway suggestion on the order-sign card
            send(
                client,
                {
                    "card": card["uuid"],
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                },
            )
            expected[pathway]["switched"] += 1
    assert all(e["on"] and e["off"] and e["switched"] for e in expected.values()), (
        expected
    )  # every case drawn

    monkeypatch.setenv("CPOC_TIMEZONE", "America/Bogota")  # UTC-5, like the test clock
    out = io.StringIO()
    store = f"sqlite:///{tmp_path}/cds-store.sqlite"
    with redirect_stdout(out):
        deviations = str(tmp_path / "deviations.csv")
        command = ["report", "adherence", "--from", DAY, "--to", DAY, "--format", "json"]
        code = main([*command, "--store", store, "--deviations", deviations])
    assert code == 0
    report = json.loads(out.getvalue())
    rows = {row["pathwayId"]: row for row in report["pathways"]}
    for pathway, counts in expected.items():
        row = rows[pathway]
        assert (row["onPathway"], row["offPathway"]) == (counts["on"], counts["off"])
        assert row["deviationsWithReason"] == counts["reason"]
        assert row["suggestionsAccepted"] == counts["switched"]
        assert row["adherenceRate"] == round(counts["on"] / (counts["on"] + counts["off"]), 4)
    on = sum(c["on"] for c in expected.values())
    assessed = on + sum(c["off"] for c in expected.values())
    assert report["overall"]["adherenceRate"] == round(on / assessed, 4)
    cancers = {row["cancer"]: row for row in report["noPathway"]}
    assert cancers["melanoma"]["noPathway"] == no_pathway
    assert cancers["lung"]["undetermined"] == undetermined
    lines = (tmp_path / "deviations.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) - 1 == sum(c["off"] for c in expected.values())  # header + deviations
