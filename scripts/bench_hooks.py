"""Benchmark: CDS Hooks ``cpoc-order-sign`` with full prefetch of a heavy record, under gunicorn.

Takes the heaviest patient (most MedicationRequests) of the Synthea Bulk NDJSON subset in
``/work/shared/data/external/synthea_bulk_10pt_subset`` (``../shared/...`` from the repo),
builds the full prefetch the service publishes (the Patient plus one searchset Bundle per key,
empty for types the record lacks) and one draft MedicationRequest (the patient's last
anti-cancer drug, on its last treatment date), then:
  1. starts ``gunicorn -w 2 -b 127.0.0.1:<free port> "cds_hooks.app:create_app()"`` on a
     temporary SQLite store, with client JWT verification ON (an ES384 key in a JWKS file);
  2. pre-signs one JWT per request (unique ``jti``: replays are refused), warms up, then posts
     the pre-serialised body N times from C client threads (a ``requests.Session`` each),
     checking every answer is 200 with cards;
  3. times a plain ``json.loads`` of the same body in this process (the floor any reader pays),
     and the parse-only floor under the same gunicorn: the same body with its hook renamed,
     authenticated, read, parsed, audited and refused (400) before the record is read.
Prints the machine, the body, latency percentiles, requests/s, the ratios latency / JSON parse
and the targets (p99 ≤ 100 ms, p50 / parse ≤ 20×), and the workers' peak RSS.

The README quotes both runs: ``--concurrency 1`` for single-request latency, and the default
``--concurrency 2`` (one client thread per worker on the 2-core machine) for throughput.
Exits 2 when the data folder is absent.

    .venv/bin/python scripts/bench_hooks.py [--requests N] [--concurrency C]
                                            [--warmup W] [--data DIR] [--keep]
                                            [--no-record-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from cds_support import hook_body, medication_order, searchset  # noqa: E402

from cpoc_fhir.engine.facts import DrugRole  # noqa: E402
from cpoc_fhir.fhir.record_queries import RECORD_QUERIES, RecordQuery  # noqa: E402
from cpoc_fhir.knowledge.loader import load_knowledge  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "external" / "synthea_bulk_10pt_subset"
SERVICE = "/cds-services/cpoc-order-sign"
ISSUER = "https://ehr.bench.example/cds-client"
KID = "bench-es384"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# Fallback draft when the record has no anti-cancer order: carboplatin (ingredient RxNorm).
FALLBACK_DRUG = ("40048", "carboplatin")
TARGET_P99_MS = 100.0
TARGET_RATIO = 20.0
Resource = dict[str, Any]


# --- the record -----------------------------------------------------------------------------


def _patient_id(reference: str) -> str | None:
    """The Patient id a reference names: ``Patient/<id>``, an absolute URL or ``urn:uuid:``."""
    if reference.startswith("urn:uuid:"):
        return reference[len("urn:uuid:") :]
    parts = reference.split("?", 1)[0].rstrip("/").rsplit("/", 2)
    return parts[-1] if len(parts) >= 2 and parts[-2] == "Patient" else None


def _owner(resource: Resource) -> str | None:
    for field in ("subject", "patient", "individual"):
        ref = (resource.get(field) or {}).get("reference")
        if isinstance(ref, str):
            return _patient_id(ref)
    return None


def read_bulk(folder: Path) -> tuple[dict[str, Resource], dict[str, list[Resource]]]:
    """Patients by id and every other resource grouped by the Patient id it refers to."""
    patients: dict[str, Resource] = {}
    owned: dict[str, list[Resource]] = defaultdict(list)
    for path in sorted(folder.glob("*.ndjson")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                resource = json.loads(line)
                if resource.get("resourceType") == "Patient":
                    patients[resource["id"]] = resource
                elif (pid := _owner(resource)) is not None:
                    owned[pid].append(resource)
    return patients, owned


def heaviest(patients: dict[str, Resource], owned: dict[str, list[Resource]]) -> str:
    """The patient with the most MedicationRequests (then the most resources)."""

    def weight(pid: str) -> tuple[int, int]:
        mine = owned.get(pid, [])
        return sum(r["resourceType"] == "MedicationRequest" for r in mine), len(mine)

    return max(patients, key=weight)


def _with_patient_ref(resource: Resource, pid: str) -> Resource:
    """A copy whose patient reference reads ``Patient/<id>``, as a FHIR search returns it
    (Bulk files written from transaction Bundles may use ``urn:uuid:``)."""
    for field in ("subject", "patient", "individual"):
        ref = (resource.get(field) or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:"):
            return {**resource, field: {**resource[field], "reference": f"Patient/{pid}"}}
    return resource


def _answers(query: RecordQuery, resource: Resource) -> bool:
    """Whether the search would return ``resource`` (patient already matched; ``code``)."""
    if resource.get("resourceType") != query.resource_type:
        return False
    codes = dict(query.params).get("code")
    if not codes:
        return True
    wanted = set(codes.split(","))
    codings = (resource.get("code") or {}).get("coding") or []
    return any(f"{c.get('system')}|{c.get('code')}" in wanted for c in codings)


def full_prefetch(patient: Resource, resources: list[Resource]) -> dict[str, Any]:
    """Every prefetch key the service publishes: the Patient, one searchset per query."""
    pid = patient["id"]
    prefetch: dict[str, Any] = {"patient": patient}
    for query in RECORD_QUERIES:
        matches = [_with_patient_ref(r, pid) for r in resources if _answers(query, r)]
        prefetch[query.key] = searchset(matches)
    return prefetch


def _day(resource: Resource) -> str | None:
    for field in ("authoredOn", "effectiveDateTime", "occurrenceDateTime", "performedDateTime"):
        if resource.get(field):
            return str(resource[field])[:10]
    for field in ("period", "performedPeriod", "effectivePeriod"):
        start = (resource.get(field) or {}).get("start")
        if start:
            return str(start)[:10]
    return None


def draft_order(pid: str, resources: list[Resource]) -> tuple[Resource, str]:
    """One draft MedicationRequest: the last anti-cancer drug ordered, on its last date."""
    catalog = load_knowledge().regimens
    last: tuple[str, str, str] | None = None  # (day, rxcui, name)
    for r in resources:
        concept = r.get("medicationCodeableConcept") or {}
        codings = [
            (c.get("system"), c.get("code"), c.get("display")) for c in concept.get("coding") or []
        ]
        drug = catalog.resolve(codings, concept.get("text")).drug
        day = _day(r)
        rx = next((code for system, code, _ in codings if system == RXNORM and code), None)
        if r["resourceType"] != "MedicationRequest" or drug is None or not day or rx is None:
            continue
        if drug.role is DrugRole.ANTICANCER and (last is None or day > last[0]):
            last = (day, rx, concept.get("text") or drug.name)
    if last is None:
        days = [d for r in resources if (d := _day(r))]
        day = max(days) if days else time.strftime("%Y-%m-%d")
        rx, name = FALLBACK_DRUG
        why = f"no anti-cancer order in the record: {name} on the record's last date"
    else:
        day, rx, name = last
        why = "the patient's last anti-cancer order, on its last treatment date"
    order = medication_order("bench-draft-1", pid, rx, name, day)
    return order, f"{name} (RxNorm {rx}) on {day} ({why})"


def resource_counts(prefetch: dict[str, Any], drafts: Iterable[Resource]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for value in prefetch.values():
        if value is None:
            continue
        if value.get("resourceType") == "Bundle":
            counts.update(e["resource"]["resourceType"] for e in value.get("entry") or [])
        else:
            counts[value["resourceType"]] += 1
    counts.update(f"draft {d['resourceType']}" for d in drafts)
    return counts


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_key(tmp: Path) -> ec.EllipticCurvePrivateKey:
    """A fresh ES384 key; its public half is written as the trusted issuer's JWKS file."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": KID, "use": "sig"}
    (tmp / "client-jwks.json").write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    return key


def start_gunicorn(
    tmp: Path, port: int, record_cache: bool = True
) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPOC_")}
    env.update(
        {
            "CPOC_CDS_AUTH": "on",
            "CPOC_CDS_TRUSTED_ISSUERS": json.dumps({ISSUER: str(tmp / "client-jwks.json")}),
            "CPOC_CDS_BASE_URL": f"http://127.0.0.1:{port}",
            "CPOC_STORE_URL": f"sqlite:///{tmp / 'store.sqlite'}",
            # the draft is dated on the Synthea record's last treatment day (decades ago): the
            # service's window for draft dates (366 days by default) would refuse it
            "CPOC_CDS_DRAFT_DAYS_BACK": "36500",
            # every timed request repeats one body: with the record cache on (the default)
            # they measure the repeat of an order (select → sign); off: every call cold
            "CPOC_CDS_RECORD_CACHE": "on" if record_cache else "off",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    log_path = tmp / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*argv, "cds_hooks.app:create_app()"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, log_path


def wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{_tail(log_path)}")
        try:
            if requests.get(f"{base}/cds-services", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s:\n{_tail(log_path)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def workers(master: int) -> list[int]:
    """The gunicorn master's child pids, from /proc (no psutil)."""
    pids: list[int] = []
    for children in Path(f"/proc/{master}/task").glob("*/children"):
        try:
            pids += [int(p) for p in children.read_text().split()]
        except OSError:
            continue
    return sorted(set(pids))


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


# --- the client -----------------------------------------------------------------------------


def sign_tokens(key: ec.EllipticCurvePrivateKey, audience: str, count: int) -> list[str]:
    """One JWT per request, each with its own jti; valid long enough for the whole run."""
    now = int(time.time())
    return [
        jwt.encode(
            {
                "iss": ISSUER,
                "sub": ISSUER,
                "aud": audience,
                "exp": now + 3000,  # under the service's 1 h maximum lifetime
                "iat": now,
                "jti": str(uuid.uuid4()),
            },
            key,
            algorithm="ES384",
            headers={"kid": KID, "typ": "JWT"},
        )
        for _ in range(count)
    ]


def run(
    url: str, body: bytes, tokens: list[str], concurrency: int, floor: bool = False
) -> tuple[list[float], float]:
    """Post ``body`` once per token from ``concurrency`` threads; latencies (s) and wall (s).
    ``floor``: the parse-only body, answered 400 after the parse (checked)."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures: list[str] = []
    start = threading.Barrier(concurrency + 1)

    def worker(i: int) -> None:
        with requests.Session() as session:
            mine = tokens[i::concurrency]
            start.wait()
            for token in mine:
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
                t0 = time.perf_counter()
                try:
                    answer = session.post(url, data=body, headers=headers, timeout=60)
                except requests.RequestException as exc:
                    failures.append(f"request failed: {exc}")
                    return
                latencies[i].append(time.perf_counter() - t0)
                problem = _floor_problem(answer) if floor else _problem(answer)
                if problem:
                    failures.append(problem)
                    return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"!! order-sign failed: {failures[0]}")
    return [x for per in latencies for x in per], wall


def _problem(answer: requests.Response) -> str | None:
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text[:2000]}"
    try:
        cards = answer.json().get("cards")
    except ValueError:
        return f"HTTP 200 but not JSON: {answer.text[:2000]}"
    return None if cards else f"HTTP 200 without cards: {answer.text[:2000]}"


def _floor_problem(answer: requests.Response) -> str | None:
    if answer.status_code == 400 and "hook" in answer.text:
        return None
    return f"parse-only floor: expected a 400 about the hook, got HTTP {answer.status_code}"


def floor_body(body: dict[str, Any]) -> bytes:
    """The same body with its ``hook`` renamed: the service authenticates, reads and parses it
    (the same bytes, give or take two), audits the call, and refuses it (400) before reading
    the record: the parse-only floor under the same gunicorn."""
    return json.dumps({**body, "hook": "patient-view"}).encode()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def parse_ms(body: bytes, runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        json.loads(body)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def audited_ms(store: Path, skip: int) -> list[float]:
    """Server-side latencies the audit rows recorded (the timed calls only), ascending."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT latency_ms FROM hook_invocations WHERE http_status = 200 ORDER BY id"
            ).fetchall()
    except sqlite3.Error:
        return []
    return sorted(r[0] for r in rows[skip:])


# --- main -----------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests (300)")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads (2)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first (20)")
    parser.add_argument("--data", type=Path, default=DATA, help="Bulk NDJSON folder")
    parser.add_argument(
        "--no-record-cache",
        action="store_true",
        help="CPOC_CDS_RECORD_CACHE=off: every request reads and evaluates its record",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be ≥ 1, --warmup ≥ 0")
    if not args.data.is_dir() or not any(args.data.glob("*.ndjson")):
        print(f"data folder absent or without *.ndjson: {args.data}", file=sys.stderr)
        print("(the Synthea Bulk subset of ../shared/data/external is needed)", file=sys.stderr)
        sys.exit(2)

    patients, owned = read_bulk(args.data)
    if not patients:
        print(f"no Patient in {args.data}", file=sys.stderr)
        sys.exit(2)
    pid = heaviest(patients, owned)
    resources = owned.get(pid, [])
    prefetch = full_prefetch(patients[pid], resources)
    draft, draft_text = draft_order(pid, resources)
    request_body = hook_body("order-sign", pid, [draft], prefetch)
    body = json.dumps(request_body).encode()
    floor = floor_body(request_body)
    counts = resource_counts(prefetch, [draft])
    left_out = Counter(
        r["resourceType"] for r in resources if not any(_answers(q, r) for q in RECORD_QUERIES)
    )

    print(f"machine     : {machine()}")
    print(f"patient     : Patient/{pid} ({len(patients)} in {args.data})")
    print(f"draft order : {draft_text}")
    print(f"body        : {len(body) / 1024:,.0f} KB, {sum(counts.values())} resources")
    print("  " + ", ".join(f"{t} {n}" for t, n in counts.most_common()))
    empty = [q.key for q in RECORD_QUERIES if not prefetch[q.key]["entry"]]
    print(f"  empty prefetch Bundles: {', '.join(empty) or 'none'}")
    if left_out:
        print("  not in any prefetch: " + ", ".join(f"{t} {n}" for t, n in left_out.items()))

    parse = parse_ms(body)
    tmp = Path(tempfile.mkdtemp(prefix="cpoc-bench-hooks-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        key = client_key(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        url = base + SERVICE
        proc, log_path = start_gunicorn(tmp, port, record_cache=not args.no_record_cache)
        wait_ready(proc, base, log_path, timeout=60)
        tokens = sign_tokens(key, url, args.warmup + 2 * args.requests)
        if args.warmup:
            run(url, body, tokens[: args.warmup], args.concurrency)
        timed = tokens[args.warmup : args.warmup + args.requests]
        latencies, wall = run(url, body, timed, args.concurrency)
        floor_latencies, _ = run(
            url, floor, tokens[args.warmup + args.requests :], args.concurrency, floor=True
        )
        rss = {w: peak_rss_mb(w) for w in workers(proc.pid)}
        server = audited_ms(tmp / "store.sqlite", args.warmup)
    finally:
        if proc is not None:
            stop(proc)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    ms = sorted(1000 * x for x in latencies)
    p50, p95, p99 = (percentile(ms, p) for p in (50, 95, 99))
    print(
        f"run         : gunicorn -w 2 (sync), auth on (ES384 JWT + jti insert), "
        f"{args.warmup} warm-up + {len(ms)} timed requests, concurrency {args.concurrency}"
    )
    print(
        f"latency ms  : p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {ms[-1]:.1f}  "
        f"(mean {statistics.fmean(ms):.1f})"
    )
    if server:
        print(
            f"server ms   : p50 {percentile(server, 50):.1f}  p99 {percentile(server, 99):.1f}  "
            "(audit latency_ms: parse → answer, in the worker)"
        )
    print(f"throughput  : {len(ms) / wall:.1f} requests/s ({wall:.2f} s wall)")
    print(f"JSON parse  : {parse:.2f} ms (json.loads of the body, median of 50, this process)")
    floor_ms = sorted(1000 * x for x in floor_latencies)
    f50, f99 = percentile(floor_ms, 50), percentile(floor_ms, 99)
    print(
        f"parse floor : p50 {f50:.1f}  p99 {f99:.1f} ms (same body, hook renamed: auth, read, "
        f"parse, audit, 400; {len(floor_ms)} requests after the timed ones)"
    )
    print(
        f"vs floor    : p50 {p50 / f50:.1f}×  p99 {p99 / f99:.1f}× "
        f"(target ≤ 2×: {'met' if p50 <= 2 * f50 and p99 <= 2 * f99 else 'NOT met'})"
    )
    print(f"ratio       : p50 / parse {p50 / parse:.1f}×  p99 / parse {p99 / parse:.1f}×")
    shown = ", ".join(
        f"pid {w} {mb:.0f} MB" if mb is not None else f"pid {w} ?" for w, mb in rss.items()
    )
    print(f"peak RSS    : {shown or 'workers not found'} (VmHWM per worker)")
    print(
        f"targets     : p99 ≤ {TARGET_P99_MS:.0f} ms: "
        f"{'met' if p99 <= TARGET_P99_MS else 'NOT met'} ({p99:.1f}); "
        f"p50 / parse ≤ {TARGET_RATIO:.0f}×: "
        f"{'met' if p50 / parse <= TARGET_RATIO else 'NOT met'} ({p50 / parse:.1f}×)"
    )


if __name__ == "__main__":
    main()
