"""Schema-driven fuzzing (schemathesis) of every service's OpenAPI, against the apps served on a real
loopback port by uvicorn, with the real PostgreSQL and Kafka of the test stack underneath.

For each operation, three runs of generated requests: valid inputs with a department token, invalid
inputs (schemathesis' negative mode) with the same token, and valid inputs with no token. Every answer
must be: not a 5xx, within a per-request timeout (no hang), conforming to the documented response
schema where one is documented, a 4xx for invalid input (unknown query parameters are ignored, not
invalid; a batch answers invalid items inside its 207), and — for every 4xx, and every refused item of a
batch — the API.md error body ``{"errors": [{"path", "code", "message"}]}``.

The number of examples is bounded (``FUZZ_EXAMPLES``, default 12 per run) so the whole module takes
about a minute on two cores. Generation is derandomized, so a failure in CI is reproducible locally;
``FUZZ_EXAMPLES=60`` searches deeper (several minutes). Values schemathesis rarely draws — NUL, very
long and control characters in every parameter — are sent on purpose by ``test_bad_input.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
REQUEST_TIMEOUT = 10.0  # seconds; a request that takes longer is a hang as far as a client can tell
SERVICES = ("ingest", "grading", "sanctions", "publish", "bridge")
# Operations that answer invalid *items* inside a 207 (API.md: "valid items are accepted even when others
# fail"), so an invalid item is not a 4xx of the whole request; their items' answers are checked below.
PER_ITEM_ANSWERS = {("POST", "/v1/records:batch")}


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def _error_body_problems(body: Any) -> str | None:
    """None when ``body`` (a 4xx answer, or a refused batch item) is the API.md error body, else what is
    wrong with it."""
    if isinstance(body, str):
        return f"not JSON: {body[:200]!r}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return f'no non-empty "errors" list: {body!r:.300}'
    for item in errors:
        if not isinstance(item, dict) or set(item) != {"path", "code", "message"}:
            return f"an error item is not exactly {{path, code, message}}: {item!r:.300}"
        if not all(isinstance(item[key], str) for key in item) or not item["code"] or not item["message"]:
            return f"an error item has a non-string or empty field: {item!r:.300}"
    return None


def _fuzz(base_url: str, spec: dict[str, Any], token: str) -> list[str]:
    """Run every operation of ``spec`` in the three modes; the failures found (empty when none)."""
    schema = schemathesis.openapi.from_dict(spec)
    # Unknown query parameters are ignored, as HTTP APIs commonly do; they are not "invalid input".
    schema.config.generation.update(allow_extra_parameters=False)
    session = requests.Session()
    failures: list[str] = []
    runs: list[tuple[str, GenerationMode, dict[str, str]]] = [
        ("valid input, department token", GenerationMode.POSITIVE, {"Authorization": f"Bearer {token}"}),
        ("invalid input, department token", GenerationMode.NEGATIVE, {"Authorization": f"Bearer {token}"}),
        ("valid input, no token", GenerationMode.POSITIVE, {}),
    ]
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"an operation of the OpenAPI document cannot be tested: {result.err()}")
            continue
        operation = result.ok()
        for what, mode, headers in runs:
            label = f"{operation.method.upper()} {operation.path} ({what})"
            try:
                _run(operation, mode, headers, base_url, session)
            except Unsatisfiable:
                continue  # nothing to negate: no parameter or body the schema constrains
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, not only the first
                failures.append(f"{label}:\n" + "".join(traceback.format_exception(exc))[-4000:])
    session.close()
    return failures


def _run(
    operation: Any, mode: GenerationMode, headers: dict[str, str], base_url: str, session: requests.Session
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        started = time.monotonic()
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.Timeout:
            raise AssertionError(f"no answer within {REQUEST_TIMEOUT:.0f} s: {case.as_curl_command()}") from None
        checks: list[Callable[..., Any]] = [not_a_server_error, response_schema_conformance]
        if mode is GenerationMode.NEGATIVE and (operation.method.upper(), operation.path) not in PER_ITEM_ANSWERS:
            checks.append(negative_data_rejection)
        case.validate_response(response, checks=checks)
        if 400 <= response.status_code < 500:
            problem = _error_body_problems(response.json() if _is_json(response) else response.text)
            assert problem is None, f"{response.status_code} without the API.md error body ({problem}): " + (
                case.as_curl_command()
            )
        if (operation.method.upper(), operation.path) in PER_ITEM_ANSWERS and response.status_code == 207:
            for item in response.json()["results"]:
                assert isinstance(item["status"], int), item
                assert item["status"] < 500, item
                if item["status"] >= 400:
                    problem = _error_body_problems(item)
                    assert problem is None, f"batch item {item['index']}: {problem}: {case.as_curl_command()}"
        assert time.monotonic() - started < REQUEST_TIMEOUT

    check()


# schemathesis 4.32 draws from `random` inside its strategies, which Hypothesis deprecates with a warning
# (an error under this project's `filterwarnings = error`); it affects neither the data nor the checks.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("service", SERVICES)
async def test_generated_requests_never_fail_the_server_and_errors_keep_their_shape(
    service: str, apps: dict[str, httpx.AsyncClient], urls: dict[str, str], tokens: dict[str, str]
) -> None:
    spec = apps[service].app.openapi()  # type: ignore[attr-defined]
    assert spec["paths"], f"{service} documents no operation"
    failures = await asyncio.to_thread(_fuzz, urls[service], spec, tokens["TOKEN_AMR"])
    assert not failures, f"{len(failures)} operation(s) of {service} failed:\n\n" + "\n\n".join(failures)
