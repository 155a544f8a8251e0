"""The service and the CLI on a Milvus Lite backend, end to end: `mimo index build --uri x.db`, `search`,
`index add/delete/info`, and a real `mimo serve x.db` process (behind an API key from MIMO_API_KEY) that
answers 16 concurrent clients with 0 errors and the FAISS flat results, and survives hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

pytest.importorskip("milvus_lite")

from test_index import build_tiny_model, make_corpus, write_jsonl  # noqa: E402
from test_serve import QUERIES, _same, check_hostile, concurrent_errors, start_server  # noqa: E402

from mimo.index import SearchIndex, build_index  # noqa: E402

KEY = "milvus-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same corpus and model as a FAISS flat index (the reference) and a Milvus Lite .db built by the CLI."""
    from typer.testing import CliRunner

    from mimo.cli import app

    root = tmp_path_factory.mktemp("serve-milvus")
    model = build_tiny_model(root)
    corpus = write_jsonl(root / "c.jsonl", make_corpus(300))
    flat = build_index(str(model), corpus, root / "flat")
    expected = {q: [h.to_dict() for h in flat.search(q, k=10)[0]] for q in QUERIES}
    r = CliRunner().invoke(app, ["index", "build", str(model), str(corpus), "--backend", "milvus",
                                 "--uri", str(root / "ix.db"), "--shard-size", "64"])
    assert r.exit_code == 0, r.output
    assert "300 passages, flat index (Milvus collection 'mimo')" in r.output
    return {"root": root, "db": root / "ix.db", "model": model, "expected": expected, "flat": flat}


def test_cli_search_info_add_delete_on_milvus(built: dict, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from mimo.cli import app

    run = CliRunner().invoke
    db = tmp_path / "copy.db"
    shutil.copytree(built["db"], db, ignore=shutil.ignore_patterns("LOCK"))
    r = run(app, ["search", str(db), QUERIES[0], QUERIES[2], "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    _same(out[0]["hits"], built["expected"][QUERIES[0]])
    _same(out[1]["hits"], built["expected"][QUERIES[2]])
    r = run(app, ["search", str(db), "zebra zebra", "--lang", "de", "--json"])
    assert {h["lang"] for h in json.loads(r.stdout)[0]["hits"]} == {"de"}
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "z1", "text": "zebra zebra", "lang": "en"}])
    assert run(app, ["index", "add", str(db), str(more)]).exit_code == 0
    r = run(app, ["index", "add", str(db), str(more)])
    assert r.exit_code == 1 and "already in the index: 'z1'" in r.output
    assert run(app, ["index", "add", str(db), str(more), "--upsert"]).exit_code == 0
    assert run(app, ["index", "delete", str(db), "p0", "p1"]).exit_code == 0
    info = json.loads(run(app, ["index", "info", str(db), "--json"]).stdout)
    assert (info["count"], info["backend"], info["kind"], info["collection"]) == (299, "milvus", "flat", "mimo")
    assert sum(info["languages"].values()) == 299
    hits = json.loads(run(app, ["search", str(db), "zebra zebra", "-k", "1", "--json"]).stdout)[0]["hits"]
    assert hits[0]["id"] == "z1"


@pytest.fixture(scope="module")
def milvus_server(built: dict):
    url, proc = start_server([str(built["db"])], env={"MIMO_API_KEY": KEY})
    yield url, proc
    if proc.poll() is None:
        proc.kill()


def test_milvus_service_16_clients_zero_errors(milvus_server, built: dict) -> None:
    url, _ = milvus_server
    errors = concurrent_errors(url, built["expected"], clients=16, per_client=25, headers=AUTH)
    assert errors == [], errors[:5]
    stats = httpx.get(url + "/stats", headers=AUTH).json()
    assert stats["backend"] == "milvus" and stats["count"] == 300 and stats["requests"] >= 400
    assert sum(stats["languages"].values()) == 300


def test_milvus_service_needs_the_key_and_survives_hostile_input(milvus_server, built: dict) -> None:
    url, proc = milvus_server
    assert httpx.get(url + "/health").status_code == 200
    for path in ("/stats", "/docs", "/openapi.json"):
        r = httpx.get(url + path)
        assert r.status_code == 401 and "milvus" not in r.text.lower() and "300" not in r.text
    assert httpx.post(url + "/search", json={"query": "x"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    check_hostile(url, proc, built["expected"], headers=AUTH)


def test_milvus_index_equals_faiss_flat_in_process(built: dict, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "copy.db"
    shutil.copytree(built["db"], db, ignore=shutil.ignore_patterns("LOCK"))
    idx = SearchIndex.load(db)
    for q in QUERIES:
        _same([h.to_dict() for h in idx.search(q, k=10)[0]], built["expected"][q])
    idx.close()
