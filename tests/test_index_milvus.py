"""mimo.index on a real Milvus engine (Milvus Lite in-process; its gRPC server for the URI path): the same
top-k as FAISS flat, language filters, upsert / delete, reopen after a restart, kill -9 during a bulk
insert, and clear errors for bad URIs and dimension mismatches."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from mimo.errors import InputError, MimoError  # noqa: E402
from mimo.index import Doc, SearchIndex, build_index  # noqa: E402

LANGS = ["en", "de", "fr", "ru", "zh"]


class HashEncoder:
    """A deterministic fake encoder: each text's vector is seeded by its crc32 (no model, no torch)."""

    prompts = {"query": "query: ", "passage": "passage: "}

    def __init__(self, dim: int = 16) -> None:
        self.dim, self.calls = dim, 0

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:
        self.calls += 1
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def docs_for(n: int, prefix: str = "p") -> list[Doc]:
    return [Doc(f"{prefix}{i}", f"text {i}", LANGS[i % 5], f"T{i}" if i % 7 == 0 else None) for i in range(n)]


def ids(hits) -> list[list[str]]:
    return [[h.id for h in row] for row in hits]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_same_top_k_and_filters_as_faiss_flat(tmp_path: Path) -> None:
    vecs, docs = unit(600, 16), docs_for(600)
    flat = build_index("none", docs, tmp_path / "flat", vectors=vecs)
    mil = build_index("none", docs, tmp_path / "x.db", vectors=vecs)
    assert (mil.backend, mil.kind, len(mil), mil.dim) == ("milvus", "flat", 600, 16)
    q = unit(25, 16, seed=1)
    for langs in (None, ["de"], ["ru", "zh"], ["pt"]):
        a, b = flat.search_vectors(q, 10, langs), mil.search_vectors(q, 10, langs)
        assert ids(a) == ids(b), langs
        assert [h.score for r in b for h in r] == pytest.approx([h.score for r in a for h in r], abs=1e-5)
        if langs:
            assert {h.lang for r in b for h in r} <= set(langs)
    assert mil.store.search(q[:2], 10, ['de"] or id != "']) == [[], []]  # no filter injection
    hit = mil.search_vectors(vecs[:1], 1)[0][0]
    assert (hit.id, hit.lang, hit.title, hit.snippet) == ("p0", "en", "T0", "text 0")
    assert mil.languages == {lang: 120 for lang in LANGS}
    mil.close()


def test_upsert_delete_add_and_reopen(tmp_path: Path) -> None:
    vecs = unit(100, 16)
    enc = HashEncoder()
    idx = build_index("none", docs_for(100), tmp_path / "x.db", vectors=vecs, encoder=enc)
    assert idx.upsert([Doc("p3", "brand new words", "de"), Doc("n1", "another one", "fr")]) == 101
    got = idx.search("brand new words", k=1)[0][0]
    assert (got.id, got.lang, got.snippet) == ("p3", "de", "brand new words")
    assert idx.add([Doc("n2", "zebra", "en")]) == 102
    with pytest.raises(InputError, match="already in the index: 'n2'"):
        idx.add([Doc("n2", "again")])
    assert idx.delete(["p0", "n1"]) == 100
    with pytest.raises(InputError, match="not in the index: 'nope'"):
        idx.delete(["nope"])
    assert idx.languages == {"de": 21, "en": 20, "fr": 20, "ru": 19, "zh": 20}  # p3 moved ru -> de
    idx.close()
    again = SearchIndex.load(tmp_path / "x.db", encoder=enc)
    assert len(again) == 100 and again.search("zebra", k=1)[0][0].id == "n2"
    assert "p0" not in {h.id for h in again.search_vectors(vecs[:1], 100)[0]}
    again.close()


RESTART = textwrap.dedent("""
    import sys, numpy as np
    from mimo.index import Doc, build_index
    v = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    build_index("none", [Doc(f"p{i}", f"t {i}", "en") for i in range(300)], sys.argv[1], vectors=v, kind="hnsw")
    print("built", flush=True)
""")


def test_reopen_after_restart(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", RESTART, str(tmp_path / "x.db")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and "built" in out.stdout, out.stderr[-2000:]
    idx = SearchIndex.load(tmp_path / "x.db")
    v = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert len(idx) == 300 and idx.kind == "hnsw" and idx.manifest["milvus"]["index_type"] == "HNSW"
    assert idx.manifest["recall_at_10_vs_exact"] > 0.9
    assert [h[0].id for h in idx.search_vectors(v[:20], 1)] == [f"p{i}" for i in range(20)]
    idx.close()


KILL = textwrap.dedent("""
    import sys, numpy as np
    from mimo.index import Doc, SearchIndex
    store = SearchIndex.load(sys.argv[1]).store
    rng = np.random.default_rng(0)
    docs = [Doc(f"b{i}", "t", "en") for i in range(200_000)]
    v = rng.standard_normal((len(docs), 16)).astype(np.float32)
    store.add(docs, v, on_batch=lambda i, n: print(f"ack {i} {n}", flush=True), check=False)
""")


def test_kill_9_during_bulk_insert_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    from mimo.index.milvus_store import BATCH_ROWS

    build_index("none", docs_for(50, "s"), tmp_path / "x.db", vectors=unit(50, 16)).close()
    proc = subprocess.Popen([sys.executable, "-c", KILL, str(tmp_path / "x.db")], stdout=subprocess.PIPE, text=True)
    acked = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            acked.append(int(line.split()[1]))
            if len(acked) >= 4:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    idx = SearchIndex.load(tmp_path / "x.db")
    want = [f"b{i * BATCH_ROWS + j}" for i in acked for j in range(BATCH_ROWS)]
    assert idx.store.missing(want) == []
    assert len(idx) >= 50 + len(want)
    idx.close()


def test_bad_uris_and_dimension_mismatch_fail_clearly(tmp_path: Path) -> None:
    from mimo.index.milvus_store import MilvusStore, connect

    with pytest.raises(InputError, match="a Milvus URI is http"):
        connect("foo://bar")
    with pytest.raises(InputError, match="does not exist"):
        SearchIndex.load(tmp_path / "no" / "dir" / "x.db")
    (tmp_path / "file.db").write_text("not a database")
    with pytest.raises(InputError, match="not a Milvus Lite database"):
        SearchIndex.load(tmp_path / "file.db")
    with pytest.raises(MimoError, match="cannot open Milvus at http://127.0.0.1:1"):
        connect("http://127.0.0.1:1", timeout=2)
    with pytest.raises(InputError, match="Milvus Lite has no IVF_PQ index"):
        build_index("none", docs_for(30), tmp_path / "pq.db", vectors=unit(30, 16), kind="ivfpq")
    assert not (tmp_path / "pq.db").exists()
    idx = build_index("none", docs_for(30), tmp_path / "x.db", vectors=unit(30, 16), encoder=HashEncoder(8))
    with pytest.raises(MimoError, match="has no collection 'other'"):
        SearchIndex.load(tmp_path / "x.db", collection="other")
    with pytest.raises(InputError, match=r"30 x 16 vector matrix, got \(30, 8\)"):
        idx.add_vectors(docs_for(30, "q"), unit(30, 8))
    with pytest.raises(MimoError, match="the index holds 16-d"):
        idx.search_vectors(unit(2, 8), 5)
    with pytest.raises(MimoError, match="the model emits 8-d vectors, the index holds 16-d"):
        idx.add([Doc("new", "words")])
    with pytest.raises(MimoError, match="already holds an index of 30 passages"):
        build_index("none", docs_for(10), tmp_path / "x.db", vectors=unit(10, 8))
    store = idx.store
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    store.client.create_collection("foreign", schema=schema)
    with pytest.raises(MimoError, match="was not made by mimo"):
        MilvusStore.open(str(tmp_path / "x.db"), "foreign")
    idx.close()
    with pytest.raises(InputError, match="30 x 16"):  # reopened: the same checks
        SearchIndex.load(tmp_path / "x.db").add_vectors(docs_for(30, "q"), unit(30, 8))


def test_a_db_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    build_index("none", docs_for(20), tmp_path / "x.db", vectors=unit(20, 8)).close()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mimo.index import SearchIndex; "
                               "SearchIndex.load(sys.argv[1]); print('open', flush=True); time.sleep(120)",
                               str(tmp_path / "x.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"  # type: ignore[union-attr]
        with pytest.raises(MimoError, match="open in another process.*milvus-lite server"):
            SearchIndex.load(tmp_path / "x.db")
    finally:
        holder.kill()
        holder.wait()


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mimo.cli import app

    run = CliRunner().invoke
    for args, needle in (
        (["search", "foo://bar", "x"], "no such index"),
        (["search", str(tmp_path / "nope" / "x.db"), "x"], "does not exist"),
        (["search", "http://127.0.0.1:1", "x"], "cannot open Milvus"),
        (["index", "info", str(tmp_path / "x.db"), "--collection", "c"], "has no collection 'c'"),
    ):
        r = run(app, args)
        assert r.exit_code == 1 and needle in r.output and "Traceback" not in r.output, (args, r.output)


@pytest.fixture()
def milvus_server(tmp_path: Path):
    """``milvus-lite server``: a Milvus reached by URI, as a standalone server or cluster is."""
    port = free_port()
    exe = Path(sys.executable).with_name("milvus-lite")
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(tmp_path / "server.db"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def test_uri_path_two_machines_fill_one_collection(tmp_path: Path, milvus_server: str) -> None:
    """``--shard 0/2`` and ``--shard 1/2`` run at once (two 'machines', each its own shard dir) into one
    collection of a server reached by URI; the result equals FAISS flat over the whole corpus."""
    from test_index import build_tiny_model, make_corpus, write_jsonl

    model = build_tiny_model(tmp_path / "tiny")
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(90))
    base = [sys.executable, "-c", "from mimo.cli import main; main()", "index", "build", str(model), str(corpus),
            "--uri", milvus_server, "--collection", "docs", "--shard-size", "10"]
    procs = [subprocess.Popen([*base, "--shard", f"{i}/2", "--shard-dir", str(tmp_path / f"m{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    flat = build_index(str(model), corpus, tmp_path / "flat")
    mil = SearchIndex.load(milvus_server, collection="docs")
    assert len(mil) == 90 and mil.info()["languages"] == flat.languages
    queries = ["quick fox", "schnelle musik", "город ночь", "狐狸 音乐"]
    assert ids(mil.search(queries, k=5)) == ids(flat.search(queries, k=5))
    assert ids(mil.search(queries, k=5, langs=["de"])) == ids(flat.search(queries, k=5, langs=["de"]))
    mil.close()
    r = subprocess.run([sys.executable, "-c", "from mimo.cli import main; main()", "search", milvus_server,
                        "quick fox", "--collection", "docs", "--json", "-k", "3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [h["id"] for h in json.loads(r.stdout)[0]["hits"]] == ids(flat.search("quick fox", k=3))[0]
