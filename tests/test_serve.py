"""mimo.serve: validation (in-process) and reliability against a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_index import build_tiny_model, make_corpus, write_jsonl

from mimo.index import SearchIndex, build_index
from mimo.serve import create_app

QUERIES = ["quick fox", "schnelle musik nacht", "город ночь", "狐狸 音乐", "le chien paresseux",
           "river city", "braune hund", "лиса", "天空", "musique ville", "lazy dog jumps", "fluss"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    model = build_tiny_model(root)
    build_index(str(model), write_jsonl(root / "c.jsonl", make_corpus(300)), root / "ix")
    return root / "ix"


@pytest.fixture(scope="module")
def expected(index_dir: Path) -> dict[str, list[dict]]:
    idx = SearchIndex.load(index_dir)
    return {q: [h.to_dict() for h in idx.search(q, k=10)[0]] for q in QUERIES}


def _same(got: list[dict], want: list[dict]) -> None:
    assert [h["id"] for h in got] == [h["id"] for h in want]
    assert [h["score"] for h in got] == pytest.approx([h["score"] for h in want], abs=1e-4)


# ----------------------------------------------------------------------------- in-process


def test_validation_and_api_key(index_dir: Path, expected: dict) -> None:
    app = create_app(index_dir, api_key="s3cret", max_body_bytes=200_000)
    with TestClient(app) as c:
        assert c.get("/health").json()["status"] == "ok"
        assert c.post("/search", json={"query": "fox"}).status_code == 401
        h = {"Authorization": "Bearer s3cret"}
        assert c.post("/search", json={"query": "fox"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = c.post("/search", json={"query": ["quick fox", "лиса"], "k": 10}, headers=h)
        assert r.status_code == 200
        _same(r.json()["results"][0], expected["quick fox"])
        _same(r.json()["results"][1], expected["лиса"])
        r = c.post("/search", json={"query": "fox", "k": 5, "lang": ["pt_BR", "de"]}, headers=h)
        assert r.status_code == 200 and {x["lang"] for x in r.json()["results"][0]} <= {"de", "pt"}
        bad = [
            {"query": ""}, {"query": "  "}, {"query": []}, {"query": 5}, {"query": None},
            {"query": "x", "k": 0}, {"query": "x", "k": 1001}, {"query": "x", "k": "10"},
            {"query": "x", "k": 2.5}, {"query": "x", "k": True}, {"query": "x", "lang": ["xx"]},
            {"query": "x", "lang": "zh_TW"}, {"query": "x", "extra": 1}, {"query": "a\x00b"},
            {"query": "x" * 5000}, {"query": ["q"] * 1000}, {}, [],
        ]
        for body in bad:
            r = c.post("/search", json=body, headers=h)
            assert r.status_code == 422, (body if len(str(body)) < 80 else str(body)[:80], r.text)
            assert len(r.content) < 5000  # the hostile input is not echoed back
        r = c.post("/search", content=b"{not json", headers={**h, "content-type": "application/json"})
        assert r.status_code == 422
        big = json.dumps({"query": ["a" * 1000] * 250}).encode()
        r = c.post("/search", content=big, headers={**h, "content-type": "application/json"})
        assert r.status_code == 413
        emb = c.post("/embed", json={"texts": ["quick fox", "лиса"]}, headers=h).json()
        idx = SearchIndex.load(index_dir)
        want = idx.encoder.encode(["quick fox", "лиса"], prompt_name="query", normalize_embeddings=True)
        assert emb["dim"] == 32 and np.allclose(np.array(emb["embeddings"]), want, atol=1e-5)
        assert c.post("/embed", json={"texts": ["x"], "prompt": "other"}, headers=h).status_code == 422
        stats = c.get("/stats", headers=h).json()
        assert stats["count"] == 300 and stats["kind"] == "flat" and stats["queries"] >= 3


def test_server_picks_up_committed_updates(index_dir: Path, tmp_path: Path) -> None:
    import shutil

    from mimo.index import Doc

    live = tmp_path / "ix"
    shutil.copytree(index_dir, live)
    with TestClient(create_app(live)) as c:
        assert c.post("/search", json={"query": "zebra zebra", "k": 1}).json()["results"][0][0]["id"] != "z"
        SearchIndex.load(live).add([Doc("z", "zebra zebra", "en")])  # another writer commits
        r = c.post("/search", json={"query": "zebra zebra", "k": 1}).json()
        assert r["results"][0][0]["id"] == "z"
        assert c.get("/stats").json()["count"] == 301


# ----------------------------------------------------------------------------- real server process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
    """``mimo serve ARGS`` as a real process on a free loopback port, once /health answers."""
    import os

    port = _free_port()
    cmd = [sys.executable, "-c", "from mimo.cli import main; main()", "serve", *args,
           "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early: {proc.stdout.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("server did not come up")


@pytest.fixture(scope="module")
def server(index_dir: Path):
    url, proc = start_server([str(index_dir)])
    yield url, proc
    if proc.poll() is None:
        proc.kill()


def test_50_concurrent_clients_match_library_and_cli(server, index_dir: Path, expected: dict) -> None:
    from typer.testing import CliRunner

    from mimo.cli import app

    cli = CliRunner().invoke(app, ["search", str(index_dir), QUERIES[0], QUERIES[2], "--json"])
    assert cli.exit_code == 0, cli.output
    out = json.loads(cli.stdout)
    _same(out[0]["hits"], expected[QUERIES[0]])
    _same(out[1]["hits"], expected[QUERIES[2]])

    url, _ = server
    t0 = time.perf_counter()
    errors = concurrent_errors(url, expected, clients=50, per_client=20)
    took = time.perf_counter() - t0
    assert errors == [], errors[:5]
    stats = httpx.get(url + "/stats").json()
    assert stats["requests"] >= 1000
    assert stats["batches"] < stats["requests"]  # concurrent queries were micro-batched
    print(f"1000 requests in {took:.1f}s; {stats['mean_queries_per_batch']} queries/batch")


def test_hostile_inputs_leave_server_healthy(server, expected: dict) -> None:
    url, proc = server
    check_hostile(url, proc, expected)


def concurrent_errors(url: str, expected: dict, clients: int, per_client: int,
                      headers: dict[str, str] | None = None) -> list[str]:
    """``clients`` threads each sending ``per_client`` /search requests; every non-200 or wrong answer."""

    def client(c_id: int) -> list[str]:
        errors = []
        with httpx.Client(base_url=url, timeout=60, headers=headers) as c:
            for r_id in range(per_client):
                q = QUERIES[(c_id + r_id) % len(QUERIES)]
                r = c.post("/search", json={"query": q, "k": 10})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:100]}")
                    continue
                try:
                    _same(r.json()["results"][0], expected[q])
                except AssertionError as e:
                    errors.append(f"mismatch for {q!r}: {e}")
        return errors

    with ThreadPoolExecutor(clients) as pool:
        return [e for errs in pool.map(client, range(clients)) for e in errs]


def check_hostile(url: str, proc: subprocess.Popen, expected: dict, headers: dict[str, str] | None = None) -> None:
    """Malformed, oversized and hostile bodies get a 4xx naming the problem; the server stays up and right."""
    hostile: list[tuple[bytes, int]] = [
        (b"{not json", 422), (b"", 422), (b"[1,2,3]", 422), (b'{"query": "x", "k": 1e309}', 422),
        (json.dumps({"query": "x" * 200_000}).encode(), 422),
        (json.dumps({"query": "bad\u0007bell\u001b[31m"}).encode(), 422),
        (json.dumps({"query": ["q"] * 10_000}).encode(), 422),
        (json.dumps({"query": "x", "lang": ["../../etc"]}).encode(), 422),
        (json.dumps({"query": "x", "lang": ['de"] or id != "']}).encode(), 422),
        (json.dumps({"query": "x" * 3_000_000}).encode(), 413),
        (b"\xff\xfe\x00garbage", 422),
        (json.dumps({"query": "Berlin 東京 Москва مرحبا नमस्ते 🙂"}).encode(), 200),  # mixed scripts are fine
    ]
    with httpx.Client(base_url=url, timeout=60, headers=headers) as c:
        for body, status in hostile:
            r = c.post("/search", content=body, headers={"content-type": "application/json"})
            assert r.status_code == status, (body[:60], r.status_code, r.text[:200])
        assert c.get("/health").status_code == 200
        _same(c.post("/search", json={"query": QUERIES[1]}).json()["results"][0], expected[QUERIES[1]])
    assert proc.poll() is None


def test_graceful_shutdown_finishes_in_flight_request(server) -> None:
    url, proc = server

    def slow_body():  # the request is still in flight when SIGTERM arrives
        yield b'{"query": "quick fox",'
        time.sleep(1.5)
        yield b' "k": 3}'

    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(httpx.post, url + "/search", content=slow_body(),
                          headers={"content-type": "application/json"}, timeout=30)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        r = fut.result()
    assert r.status_code == 200 and len(r.json()["results"][0]) == 3
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "Traceback" not in proc.stdout.read()  # type: ignore[union-attr]


def test_query_encoder_export_serves_the_same_results(index_dir: Path, expected: dict, tmp_path: Path) -> None:
    from mimo.errors import InputError
    from mimo.export import export_model

    model = SearchIndex.load(index_dir).manifest["model"]
    onnx = export_model(model, "onnx", tmp_path / "onnx")
    with TestClient(create_app(index_dir, query_encoder=str(onnx))) as c:
        r = c.post("/search", json={"query": ["quick fox", "лиса"], "k": 10})
        assert r.status_code == 200
        _same(r.json()["results"][0], expected["quick fox"])
        _same(r.json()["results"][1], expected["лиса"])
    static = export_model(model, "static", tmp_path / "static", pca_dims=8)  # 8-d: not the index's space
    with pytest.raises(InputError, match="8-d vectors, the index holds 32-d"):
        create_app(index_dir, query_encoder=str(static))
    with pytest.raises(InputError, match="not 'full'"):
        create_app(index_dir, query_encoder=str(tmp_path / "missing"))


def test_batcher_takes_what_is_queued_without_waiting(index_dir: Path, expected: dict) -> None:
    """max_wait_ms=0: jobs queued while the encoder is busy form one batch (results equal the
    unbatched library's); a lone query is dispatched at once, not after a wait."""
    import asyncio
    import threading

    from mimo.serve import MicroBatcher

    idx = SearchIndex.load(index_dir)
    idx.encode_queries(["warm up"])
    executor = ThreadPoolExecutor(1)
    gate = threading.Event()
    batcher = MicroBatcher(idx, executor, max_batch=64, max_wait_ms=0)

    async def scenario() -> tuple[list, float]:
        batcher.start()
        blocker = asyncio.get_running_loop().run_in_executor(executor, gate.wait)  # encoder busy
        first = asyncio.ensure_future(batcher.submit([QUERIES[0]], 10, None))
        await asyncio.sleep(0.05)  # the batcher took the first job and waits for the executor
        rest = [asyncio.ensure_future(batcher.submit([q], 10, None)) for q in QUERIES[1:6]]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        got = await asyncio.gather(first, *rest)
        t0 = time.perf_counter()
        await batcher.submit([QUERIES[6]], 10, None)  # alone: no batch-filling wait
        lone = time.perf_counter() - t0
        await batcher.stop()
        return got, lone

    got, lone = asyncio.run(scenario())
    executor.shutdown()
    for q, res in zip(QUERIES[:6], got, strict=True):
        _same(res[0], expected[q])
    assert batcher.stats.batches == 3  # [q0], [q1..q5] together, [q6]
    assert batcher.stats.max_batch_seen == 5
    assert lone < 0.5
