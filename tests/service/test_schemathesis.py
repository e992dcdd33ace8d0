"""Schema-driven requests (schemathesis) against the served OpenAPI schema: no generated request, with a
valid key or without one, gets a 5xx, and responses conform to the schema. Bounded: EXAMPLES per route."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

EXAMPLES = 25
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck), database=None, derandomize=True)


@pytest.fixture
def served(make_service, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    return make_service(path_roots=(media,), rate_limit_per_minute=0)


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    return operations


def _exercise(operation, mode, checks, headers, seen) -> None:
    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(headers=headers)
        seen.setdefault(case.operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=checks)

    run()


def test_no_server_errors_with_a_key(served) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    seen: dict[str, set[int]] = {}
    for operation in _operations(served.app):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = [not_a_server_error]
            if mode is GenerationMode.POSITIVE:  # valid requests get documented statuses and shapes
                checks += [status_code_conformance, response_schema_conformance]

            try:
                _exercise(operation, mode, checks, served.headers(), seen)
            except Unsatisfiable:  # a route without parameters or body has no invalid requests to make
                assert mode is GenerationMode.NEGATIVE
    assert all(code < 500 for codes in seen.values() for code in codes), seen
    assert len(seen) >= 7 and 422 in seen["GET /v1/scans"]


def test_no_server_errors_without_a_key(served) -> None:
    for operation in _operations(served.app):

        @settings(SETTINGS, max_examples=5)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers={"Authorization": "Bearer unm_deadbeef_not-a-key"})
            assert response.status_code < 500
            if case.path != "/healthz":
                assert response.status_code == 401, (case.path, response.status_code)

        run()
