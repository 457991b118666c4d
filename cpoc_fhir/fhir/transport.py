"""One HTTP exchange with a FHIR server: authorization, timeouts, retries with backoff, errors.

Retried: connection failures and 429, 500, 502, 503, 504, with exponential backoff and jitter,
or after the server's Retry-After. A request that is not *replayable* (a plain POST, which
would create a second resource if the first one had in fact arrived) is retried only when the
server certainly did not act on it: the connection was never made, or the answer was 429.
A 401 makes the token provider forget its token, and the request is sent once more.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError

from .auth import NoAuth, TokenProvider
from .errors import FhirConnectionError, FhirError, FhirServerError, error_for

log = logging.getLogger("cpoc_fhir.fhir.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers that say the server did not process the request, so even a plain POST may be re-sent.
NOT_PROCESSED_STATUSES = frozenset({429})

Params = Mapping[str, Any] | list[tuple[str, str]] | None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: `backoff` × 2^attempt, jittered, at most `max_wait`."""

    max_retries: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0

    def backoff_wait(self, attempt: int, jitter: float) -> float:
        """The wait before retry `attempt` (0-based): between half and all of the full backoff."""
        full = min(self.max_wait, self.backoff * 2**attempt)
        return full * (0.5 + jitter / 2)


class Transport:
    """Sends requests to one FHIR base URL with authorization, retries and FHIR errors."""

    def __init__(
        self,
        base_url: str,
        auth: TokenProvider | None = None,
        timeout: float | tuple[float, float] = (5, 60),
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        user_agent: str = "cpoc-fhir",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth: TokenProvider = auth or NoAuth()
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.user_agent = user_agent
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
        name: str | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """The server's successful answer; FhirServerError or FhirConnectionError otherwise.

        `name` names the request in logs and errors (default: its path and query names);
        `stream` leaves a successful answer's body unread (``iter_content``; close it after).
        """
        target = name or loggable(self.base_url, url, params)
        attempt = 0
        renewed = False
        while True:
            try:
                sent_auth, response = self._send(method, url, params, body, headers, stream)
            except _Failed as failed:
                wait = self._retry_wait(attempt, None) if replayable or failed.not_sent else None
                if wait is None:
                    raise _gave_up(method, target, attempt, failed.cause) from None
                self._wait(method, target, type(failed.cause).__name__, attempt, wait)
                attempt += 1
                continue
            status = response.status_code
            log.debug("%s %s → %d", method, target, status)
            if status == 401 and not renewed and self._renewed(sent_auth):
                renewed = True
                continue
            if status < 400:
                return response
            if status in RETRY_STATUSES and (replayable or status in NOT_PROCESSED_STATUSES):
                wait = self._retry_wait(attempt, response)
                if wait is not None:
                    self._wait(method, target, str(status), attempt, wait)
                    attempt += 1
                    continue
            raise error_for(method, target, response)

    def _send(
        self,
        method: str,
        url: str,
        params: Params,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        stream: bool = False,
    ) -> tuple[str | None, requests.Response]:
        """The Authorization sent and the answer; _Failed when a retry might succeed."""
        all_headers = {"Accept": "application/fhir+json", "User-Agent": self.user_agent}
        if body is not None:
            all_headers["Content-Type"] = "application/fhir+json"
        all_headers.update(headers or {})
        try:
            authorization = self.auth.authorization()
        except FhirConnectionError as exc:
            raise _Failed(exc, not_sent=True) from None
        except FhirServerError as exc:
            if exc.status in RETRY_STATUSES:
                raise _Failed(exc, not_sent=True) from None
            raise
        if authorization:
            all_headers["Authorization"] = authorization
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=body,
                headers=all_headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.exceptions.SSLError as exc:
            raise _gave_up(method, loggable(self.base_url, url, params), 0, exc) from None
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise _Failed(exc, not_sent=_never_connected(exc)) from None
        except requests.RequestException as exc:
            raise _gave_up(method, loggable(self.base_url, url, params), 0, exc) from None
        return authorization, response

    def _renewed(self, sent: str | None) -> bool:
        """After a 401: whether the token provider now has a different credential to try."""
        self.auth.invalidate()
        fresh = self.auth.authorization()
        if fresh is not None and fresh != sent:
            log.debug("401: credential renewed, sending once more")
            return True
        return False

    def _retry_wait(self, attempt: int, response: requests.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or None when no attempt is left."""
        if attempt >= self.policy.max_retries:
            return None
        header = response.headers.get("Retry-After") if response is not None else None
        asked = retry_after_seconds(header, self._clock()) if header else None
        if asked is None:
            return self.policy.backoff_wait(attempt, self._jitter())
        if asked > self.policy.max_wait:
            log.debug("Retry-After %.0f s exceeds the %.0f s we wait", asked, self.policy.max_wait)
            return None
        return asked

    def _wait(self, method: str, target: str, reason: str, attempt: int, wait: float) -> None:
        log.debug(
            "%s %s: %s; retry %d/%d in %.2f s",
            method,
            target,
            reason,
            attempt + 1,
            self.policy.max_retries,
            wait,
        )
        self._sleep(wait)


class _Failed(Exception):
    """No answer; `not_sent` when the request certainly never reached the server."""

    def __init__(self, cause: Exception, not_sent: bool) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause
        self.not_sent = not_sent


def _never_connected(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # urllib3's NewConnectionError (refused, DNS) is a ConnectTimeoutError subclass.
    return isinstance(reason, ConnectTimeoutError)


def _gave_up(method: str, target: str, attempt: int, exc: Exception) -> FhirError:
    if isinstance(exc, FhirError):
        return exc
    # Only the exception's class: its text may repeat the URL with its query values.
    tries = "1 attempt" if attempt == 0 else f"{attempt + 1} attempts"
    return FhirConnectionError(f"{method} {target}: no answer ({type(exc).__name__}) after {tries}")


def retry_after_seconds(value: str, now: float) -> float | None:
    """Retry-After as seconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, says RFC 5322 §3.3
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def loggable(base_url: str, url: str, params: Params = None) -> str:
    """The request as `Type/id?name=…`: path below the base, query names without their values."""
    parts = urlsplit(url)
    base_path = urlsplit(base_url).path.rstrip("/")
    path = parts.path[len(base_path) :] if parts.path.startswith(base_path) else parts.path
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if isinstance(params, Mapping):
        names += list(params)
    elif params:
        names += [name for name, _ in params]
    query = "&".join(f"{name}=…" for name in dict.fromkeys(names))
    return (path.strip("/") or "/") + (f"?{query}" if query else "")
