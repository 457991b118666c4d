"""A fault-injecting HTTP proxy on 127.0.0.1, between a capture run and a FHIR server.

Each request is forwarded, or, drawn at random (seeded), one of:
- ``drop``: the connection is closed without an answer (nothing forwarded);
- ``hang``: no answer for ``hang_s`` (past the client's timeout), then closed;
- ``5xx``: 503 Service Unavailable (nothing forwarded);
- ``429``: 429 Too Many Requests with ``Retry-After: 1`` (nothing forwarded);
- ``lost``: a write (POST/PUT) is forwarded and applied, then the answer is dropped — the
  case that makes a naive retry create a second resource.
Answers are passed through with the server's base URL rewritten to the proxy's (next links,
Location headers). ``after_forward(method, path)``, when set, is called once a request has been
forwarded and answered by the server, before the answer is passed on; if it returns True the
answer is dropped (a test kills its client there: "applied, then the client died"). Faults are
counted by kind; the proxy is for tests and scripts only.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

KINDS = ("drop", "hang", "5xx", "429", "lost")
PASSED_HEADERS = ("Content-Type", "Location", "Content-Location", "ETag", "Last-Modified")


@dataclass
class FaultRates:
    """Chance that a read / a write is faulted; the kind is then drawn uniformly (``lost``
    only for writes)."""

    read: float = 0.04
    write: float = 0.3
    hang_s: float = 1.5


class FaultProxy:
    def __init__(self, upstream_root: str, rates: FaultRates, seed: int = 0) -> None:
        self.upstream_root = upstream_root.rstrip("/")
        self.rates = rates
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.enabled = True
        self.after_forward: Callable[[str, str], bool] | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.root_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def draw(self, method: str) -> str | None:
        """The fault for one request, or None to forward it."""
        write = method in ("POST", "PUT", "DELETE", "PATCH")
        with self._lock:
            self.requests += 1
            if not self.enabled:
                return None
            if self._rng.random() >= (self.rates.write if write else self.rates.read):
                return None
            kinds = KINDS if write else KINDS[:-1]
            kind = self._rng.choice(kinds)
            self.faults[kind] += 1
            return kind


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (its timeout, a SIGKILL) is expected here: not reported."""


@contextmanager
def fault_proxy(upstream_root: str, rates: FaultRates, seed: int = 0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_root, rates, seed)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    session = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = proxy.draw(self.command)
            if fault == "drop":
                return self._drop()
            if fault == "hang":
                time.sleep(proxy.rates.hang_s)
                return self._drop()
            if fault in ("5xx", "429"):
                status = 503 if fault == "5xx" else 429
                return self._answer(status, b"", {"Retry-After": "1"} if status == 429 else {})
            answer = self._forward(body)
            if fault == "lost":
                return self._drop()
            if proxy.after_forward is not None and proxy.after_forward(self.command, self.path):
                return self._drop()
            own_root = f"http://{self.headers.get('Host') or urlsplit(proxy.root_url).netloc}"
            content = answer.content.replace(proxy.upstream_root.encode(), own_root.encode())
            headers = {
                name: answer.headers[name].replace(proxy.upstream_root, own_root)
                for name in PASSED_HEADERS
                if name in answer.headers
            }
            self._answer(answer.status_code, content, headers)

        def _forward(self, body: bytes | None) -> requests.Response:
            if not hasattr(session, "http"):
                session.http = requests.Session()
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
            }
            return session.http.request(
                self.command,
                proxy.upstream_root + self.path,
                data=body,
                headers=headers,
                timeout=120,
            )

        def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _drop(self) -> None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
