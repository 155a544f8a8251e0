"""API keys on the service: every route but /health needs ``Authorization: Bearer KEY`` (from
``--api-key-file`` or ``MIMO_API_KEY``), compared in constant time; a missing or wrong key is a 401 that
says nothing about the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_serve import index_dir  # noqa: F401  (module fixture: a tiny FAISS index)

from mimo.errors import InputError
from mimo.serve import create_app, read_api_key

KEY = "s3cret-key-with-some-length"


def test_every_route_but_health_needs_the_bearer_key(index_dir: Path) -> None:  # noqa: F811
    app = create_app(index_dir, api_key=KEY)
    paths = sorted({r.path for r in app.routes} | {"/nope", "/docs", "/openapi.json", "/redoc"})
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        wrong = [{}, {"Authorization": f"Bearer {KEY}x"}, {"Authorization": f"Basic {KEY}"},
                 {"Authorization": KEY}, {"X-API-Key": KEY}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer{KEY}"}]
        for path in paths:
            if path == "/health":
                continue
            for h in wrong:
                for method in ("GET", "POST"):
                    r = c.request(method, path, headers=h, json={"query": "fox"})
                    assert r.status_code == 401, (path, h, method, r.status_code)
                    assert r.json() == {"detail": "missing or wrong API key (send Authorization: Bearer KEY)"}
                    assert r.headers["www-authenticate"] == "Bearer"
        ok = {"Authorization": f"Bearer {KEY}"}
        assert c.post("/search", json={"query": "fox", "k": 3}, headers=ok).status_code == 200
        assert c.post("/search", json={"query": "fox"}, headers={"Authorization": f"bearer  {KEY} "}).status_code == 200
        assert c.get("/stats", headers=ok).json()["count"] == 300
        assert c.get("/openapi.json", headers=ok).status_code == 200
        big = b'{"query": "' + b"x" * 3_000_000 + b'"}'
        r = c.post("/search", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 401  # refused before the body is read


def test_keys_are_compared_as_digests_in_constant_time(index_dir: Path, monkeypatch) -> None:  # noqa: F811
    import mimo.serve.guards as guards

    seen: list[tuple[int, int]] = []
    real = guards.hmac.compare_digest
    monkeypatch.setattr(guards.hmac, "compare_digest", lambda a, b: seen.append((len(a), len(b))) or real(a, b))
    with TestClient(create_app(index_dir, api_key=KEY)) as c:
        for given in ("", "x", KEY[:-1], KEY, KEY * 10):
            c.get("/stats", headers={"Authorization": f"Bearer {given}"})
    assert seen == [(32, 32)] * 5  # every key, any length, is one fixed-size comparison


def test_reading_the_key(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text(f"  {KEY}  \nsecond line ignored\n")
    assert read_api_key(f) == KEY
    assert read_api_key(f, KEY) == KEY
    assert read_api_key(None, f" {KEY}\n") == KEY
    assert read_api_key(None, None) is None
    with pytest.raises(InputError, match="no such file"):
        read_api_key(tmp_path / "missing")
    (tmp_path / "empty").write_text("\n\n")
    with pytest.raises(InputError, match="is empty"):
        read_api_key(tmp_path / "empty")
    with pytest.raises(InputError, match="different keys"):
        read_api_key(f, "other")
    with pytest.raises(InputError, match="empty"):
        read_api_key(None, "  ")


def test_cli_serve_with_a_missing_key_file_fails_in_one_line(index_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from mimo.cli import app

    r = CliRunner().invoke(app, ["serve", str(index_dir), "--api-key-file", str(tmp_path / "nokey")])
    assert r.exit_code == 1 and "no such file" in r.output and "Traceback" not in r.output
