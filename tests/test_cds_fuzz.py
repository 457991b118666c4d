"""Hypothesis fuzz of the three hooks and feedback: mutated valid bodies (tests/fuzz_bodies.py).

Whatever the body, the service answers below 500; every refusal is a JSON body with ``error``
and ``message`` that repeats no request value. 2 000 bodies in CI (500 a test, ~1 min in all);
``scripts/fuzz_hooks.py --examples 10000`` runs the same mutations at scale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from fuzz_bodies import ENDPOINTS, Chooser, Tally, check, fuzz_app, mutated, valid_bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES_PER_TEST = 500


class Drawn:
    """Choices drawn by hypothesis (so a failure shrinks to a small body)."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def choice(self, items: Any) -> Any:
        return self.data.draw(st.sampled_from(items))

    def text(self, max_size: int) -> str:
        return self.data.draw(st.text(_ANY_CHARACTER, max_size=max_size))


# Any character, lone surrogates included: written raw (invalid UTF-8) or as \udXXX escapes.
_ANY_CHARACTER = st.one_of(
    st.characters(),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    yield fuzz_app(tmp_path_factory.mktemp("fuzz")).test_client()


@pytest.fixture(scope="module")
def valid() -> dict[str, dict[str, Any]]:
    return valid_bodies()


def test_the_valid_bodies_are_answered(client: FlaskClient, valid: dict[str, Any]) -> None:
    for endpoint, path in ENDPOINTS.items():
        response = client.post(path, json=valid[endpoint])
        assert response.status_code == 200, (endpoint, response.get_data(as_text=True)[:300])


def _fuzz(client: FlaskClient, valid: dict[str, Any], choose: Chooser, endpoint: str) -> None:
    request = mutated({endpoint: valid[endpoint]}, _Only(choose, endpoint))
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    response = client.post(request.path, data=request.data, headers=headers)
    problem = check(
        request, response.status_code, response.mimetype, response.get_data(as_text=True), Tally()
    )
    assert problem is None, (problem, request.mutations)


class _Only:
    """A chooser whose first choice (the endpoint) is fixed."""

    def __init__(self, inner: Chooser, endpoint: str) -> None:
        self.inner, self.endpoint, self.first = inner, endpoint, True

    def integer(self, low: int, high: int) -> int:
        return self.inner.integer(low, high)

    def choice(self, items: Any) -> Any:
        if self.first:
            self.first = False
            return self.endpoint
        return self.inner.choice(items)

    def text(self, max_size: int) -> str:
        return self.inner.text(max_size)


FUZZ = settings(
    max_examples=EXAMPLES_PER_TEST,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@FUZZ
@given(data=st.data())
def test_no_body_makes_a_5xx_or_an_error_that_repeats_it(
    client: FlaskClient, valid: dict[str, Any], endpoint: str, data: st.DataObject
) -> None:
    _fuzz(client, valid, Drawn(data), endpoint)


def test_the_tally_counts(tmp_path: Path) -> None:
    # The script's figures come from check(): a 5xx and a leaking error body are both counted.
    from fuzz_bodies import CANARY, Request

    tally = Tally()
    request = Request("order-sign", "/x", b"{}", "application/json", ("type",))
    assert check(request, 500, "application/json", "{}", tally) == "HTTP 500"
    leak = json.dumps({"error": "bad-request", "message": CANARY})
    assert check(request, 400, "application/json", leak, tally) is not None
    assert check(request, 200, "application/json", '{"cards": []}', tally) is None
    assert (tally.sent, len(tally.server_errors), len(tally.bad_errors)) == (3, 1, 1)
