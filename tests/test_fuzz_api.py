"""Property-based fuzzing of the running service's OpenAPI schema (schemathesis), loopback only.

A real ``mimo serve`` process on 127.0.0.1 is fuzzed with schema-valid and schema-violating
requests (a fixed number per operation, derandomised): no response may be a 5xx, and every 4xx
must name the offending field (a 422 ``detail`` entry whose ``loc`` points into the request) or,
for the body-size limit, say so. The status counts are printed at the end (``pytest -s``).
"""

from __future__ import annotations

from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.generation import GenerationMode  # noqa: E402
from test_serve import index_dir, server  # noqa: E402,F401  (module fixtures: tiny index + real uvicorn process)
from test_serve_milvus import built, milvus_server  # noqa: E402,F401  (the same on Milvus Lite, behind a key)

MAX_EXAMPLES = 40


def _names_field(resp) -> bool:
    body = resp.json()
    detail = body.get("detail")
    if resp.status_code == 413:
        return "request body" in str(detail)
    if resp.status_code in (400, 422) and isinstance(detail, list) and detail:
        return all(isinstance(d.get("loc"), list) and d["loc"] and d["loc"][0] in ("body", "query", "path", "header")
                   and d.get("msg") for d in detail)
    return False


def test_fuzz_openapi_no_5xx_and_every_4xx_names_the_field(server) -> None:  # noqa: F811
    url, _ = server
    fuzz(url)


def test_fuzz_milvus_backed_service_behind_a_key(milvus_server) -> None:  # noqa: F811
    """The same fuzzing against `mimo serve x.db` (Milvus Lite) with ``Authorization: Bearer KEY`` sent."""
    from test_serve_milvus import AUTH

    url, _ = milvus_server
    fuzz(url, AUTH)


def fuzz(url: str, headers: dict[str, str] | None = None) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable

    assert url.startswith("http://127.0.0.1:")  # loopback only
    auth = {"headers": headers} if headers else {}
    schema = schemathesis.openapi.from_url(url + "/openapi.json", **auth)
    counts: Counter = Counter()
    bad: list[str] = []

    def check(case) -> None:
        resp = case.call(base_url=url, timeout=30, **auth)
        counts[f"{case.operation.method.upper()} {case.operation.path} {resp.status_code}"] += 1
        if resp.status_code >= 500:
            bad.append(f"{case.operation.path}: {resp.status_code} {resp.text[:200]}")
        elif 400 <= resp.status_code < 500 and not _names_field(resp):
            bad.append(f"{case.operation.path}: {resp.status_code} names no field: {resp.text[:200]}")

    operations = [r.ok() for r in schema.get_all_operations()]
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                           suppress_health_check=list(HealthCheck))(given(op.as_strategy(generation_mode=mode))(check))
            try:
                run()
            except Unsatisfiable:  # nothing to violate (GET without parameters): no negative case exists
                assert mode == GenerationMode.NEGATIVE and op.method.upper() == "GET"
    print(f"\nschemathesis: {len(operations)} operations, {sum(counts.values())} requests, "
          f"statuses {dict(sorted(counts.items()))}")
    assert {o.path for o in operations} >= {"/search", "/embed", "/health", "/stats"}
    assert sum(counts.values()) >= len(operations) * 10
    assert not bad, bad[:5]
