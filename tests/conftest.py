"""Shared fixtures: the shipped knowledge, the illustrative payer, an engine runner, client
keys, and a fresh store database (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cpoc_fhir.config import load_payer
from cpoc_fhir.engine.facts import PatientRecord
from cpoc_fhir.engine.lines import BillingLine, PatientTimeline
from cpoc_fhir.engine.settings import RuleSettings
from cpoc_fhir.knowledge import Knowledge
from cpoc_fhir.knowledge.loader import load_knowledge
from cpoc_fhir.packs.cpoc.payer import PayerSchedule
from cpoc_fhir.packs.cpoc.timeline import evaluate
from cpoc_fhir.store.db import make_engine, parse_url

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = REPO.parent / "shared" / "data" / "external"


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def payer() -> PayerSchedule:
    return load_payer(None)


Runner = Callable[..., PatientTimeline]


@pytest.fixture
def run(knowledge: Knowledge, payer: PayerSchedule) -> Runner:
    def _run(record: PatientRecord, as_of: str, **settings: object) -> PatientTimeline:
        rules = RuleSettings(**settings)  # type: ignore[arg-type]
        return evaluate(record, knowledge, rules, payer, date.fromisoformat(as_of))

    return _run


def lines_of(timeline: PatientTimeline, component: str) -> list[BillingLine]:
    return [line for line in timeline.lines if line.component.value == component]


def month_codes(timeline: PatientTimeline) -> dict[int | None, list[str]]:
    """month index → codes with status, e.g. {1: ["xx204 final"], ...}."""
    out: dict[int | None, list[str]] = {}
    for line in timeline.lines:
        out.setdefault(line.month, []).append(f"{line.code} {line.status.value}")
    return out


@pytest.fixture
def external() -> Path:
    if not EXTERNAL.is_dir():
        pytest.skip("external FHIR data (../shared/data/external) is not present")
    return EXTERNAL


# --- client keys for the CDS Hooks JWT tests (generated once: RSA generation is slow) -------


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    """An EC P-384 key (ES384)."""
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA 2048 key (RS384)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


PG_URL = os.environ.get("CPOC_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store database: a SQLite file, or a PostgreSQL schema of its own
    (`.ci/run` sets CPOC_TEST_POSTGRES_URL; locally the PostgreSQL cases skip without it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CPOC_TEST_POSTGRES_URL is not set: CI must test the PostgreSQL store")
        pytest.skip("CPOC_TEST_POSTGRES_URL not set (scripts/ci-postgres.sh starts a server)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    options = {"options": f"-csearch_path={schema}"}
    yield parse_url(PG_URL).update_query_dict(options).render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
