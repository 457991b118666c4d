"""A scripted Bulk Data server for tests/test_bulk_export.py: werkzeug on 127.0.0.1 in a thread.

Each endpoint answers from a list of scripted answers (the last one repeats), and every request
is recorded (method, path, Authorization) so a test can assert what the client sent: the
kick-off's headers and parameters, the polls, the DELETE, a token on a download or none.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cds_hooks.embedded_fhir import free_port

Answer = tuple[int, dict[str, str], bytes]
CUT = b"\x00cut:"  # an answer body starting so is sent in part, then the connection drops
Resource = dict[str, Any]


def fhir(status: int, body: Resource | None = None, **headers: str) -> Answer:
    data = json.dumps(body).encode() if body is not None else b""
    return status, {"Content-Type": "application/fhir+json", **headers}, data


def ndjson(resources: list[Resource]) -> Answer:
    body = "".join(json.dumps(r) + "\n" for r in resources).encode()
    return 200, {"Content-Type": "application/fhir+ndjson"}, body


def outcome(severity: str, text: str) -> Resource:
    issue = {"severity": severity, "code": "processing", "diagnostics": text}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeBulk:
    root: str = ""
    capabilities: Resource = field(
        default_factory=lambda: {
            "resourceType": "CapabilityStatement",
            "rest": [
                {
                    "mode": "server",
                    "resource": [{"type": "Patient", "operation": [{"name": "export"}]}],
                }
            ],
        }
    )
    kickoff: list[Answer] = field(default_factory=list)
    status: list[Answer] = field(default_factory=list)
    files: dict[str, list[Answer]] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)  # for reads and searches
    # Search parameters the fake ignores, as sekmet ignores ResearchSubject's ``individual``
    # (it has no such parameter): such a search returns the type's resources of every patient.
    ignored: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"{self.root}/fhir"

    def status_url(self) -> str:
        return f"{self.root}/status/job1"

    def file_url(self, name: str) -> str:
        return f"{self.root}/files/{name}"

    def accepted(self) -> Answer:
        return 202, {"Content-Location": self.status_url()}, b""

    def manifest(self, names: dict[str, str], token: bool = True, **extra: Any) -> Answer:
        """200 with a manifest: ``names`` maps file name → resource type."""
        output = [{"type": t, "url": self.file_url(n)} for n, t in names.items()]
        body = {
            "transactionTime": "2025-10-01T00:00:00Z",
            "request": f"{self.base}/Patient/$export",
            "requiresAccessToken": token,
            "output": output,
            "error": [],
            **extra,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def requests(self, method: str, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(prefix)]

    # --- the WSGI app ---------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.seen.append(
                Seen(request.method, request.path, dict(request.args), dict(request.headers))
            )
            status, headers, body = self._answer(request)
        if body.startswith(CUT):  # half the body, then the connection drops
            return Response(_cut(body[len(CUT) :]), status, headers)(environ, start_response)
        return Response(body, status, headers)(environ, start_response)

    def _answer(self, request: Request) -> Answer:
        path = request.path
        if path == "/fhir/metadata":
            return fhir(200, self.capabilities)
        if path.endswith("/$export"):
            return _next(self.kickoff) if self.kickoff else self.accepted()
        if path == "/status/job1":
            if request.method == "DELETE":
                return fhir(202, outcome("information", "cancelled"))
            return _next(self.status)
        if path.startswith("/files/"):
            return _next(self.files[path.removeprefix("/files/")])
        parts = path.removeprefix("/fhir/").split("/")
        if len(parts) == 2:
            for r in self.resources:
                if (r["resourceType"], r["id"]) == tuple(parts):
                    return fhir(200, r)
            return fhir(404, outcome("error", "not found"))
        return fhir(200, self._search(parts[0], dict(request.args)))

    def _search(self, rtype: str, args: dict[str, str]) -> Resource:
        """A one-page searchset: the type's resources naming the searched patient (any
        reference search parameter), all of them when no patient is searched for."""
        args = {k: v for k, v in args.items() if k not in self.ignored}
        patient = next((v for k, v in args.items() if not k.startswith("_") and k != "code"), None)
        # "Patient/a,Patient/b": either (a reference parameter's OR)
        refs = [v if "/" in v else f"Patient/{v}" for v in (patient or "").split(",") if v]
        matches = [
            r
            for r in self.resources
            if r["resourceType"] == rtype
            and (not refs or any(f'"{ref}"' in json.dumps(r) for ref in refs))
        ]
        entries = [{"resource": r, "search": {"mode": "match"}} for r in matches]
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def cut(answer: Answer) -> Answer:
    """The same answer, cut off after half its body."""
    status, headers, body = answer
    return status, headers, CUT + body


def _cut(body: bytes) -> Iterator[bytes]:
    yield body[: len(body) // 2]
    raise ConnectionAbortedError("the test cuts the download off")


def _next(answers: list[Answer]) -> Answer:
    return answers.pop(0) if len(answers) > 1 else answers[0]


@contextmanager
def running_fake(fake: FakeBulk | None = None) -> Iterator[FakeBulk]:
    fake = fake or FakeBulk()
    port = free_port()
    fake.root = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
