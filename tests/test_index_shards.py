"""Sharded, resumable encoding: an interrupted build resumes at the first missing shard and ends equal to an
uninterrupted one (both backends); shard plans guard against mixing corpora; N processes give the same vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_index import make_corpus, write_jsonl
from test_index_milvus import HashEncoder

from mimo.errors import InputError
from mimo.index import SearchIndex, build_index, parse_shard, read_corpus
from mimo.index.shards import ShardPlan

BACKENDS = ["faiss", pytest.param("milvus", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("milvus_lite") is None, reason="milvus-lite not installed"))]


class Interrupting(HashEncoder):
    """Ctrl-C on the ``after``-th encode call (one call per shard here)."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def encode(self, texts, **kwargs):
        if self.calls + 1 >= self.after:
            raise KeyboardInterrupt
        return super().encode(texts, **kwargs)


def _out(tmp: Path, backend: str, name: str) -> Path:
    return tmp / (f"{name}.db" if backend == "milvus" else name)


def _same_index(a: SearchIndex, b: SearchIndex, texts: list[str]) -> None:
    assert len(a) == len(b) and a.languages == b.languages
    ha, hb = a.search(texts, k=10), b.search(texts, k=10)
    assert [[h.id for h in r] for r in ha] == [[h.id for h in r] for r in hb]
    assert [h.score for r in ha for h in r] == pytest.approx([h.score for r in hb for h in r], abs=1e-6)
    assert [[(h.lang, h.title, h.snippet) for h in r] for r in ha] == [[(h.lang, h.title, h.snippet) for h in r] for r in hb]


@pytest.mark.parametrize("backend", BACKENDS)
def test_interrupted_build_resumes_at_first_missing_shard_and_equals_uninterrupted(tmp_path: Path, backend: str) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(120))
    out = _out(tmp_path, backend, "ix")
    with pytest.raises(KeyboardInterrupt):
        build_index("none", corpus, out, encoder=Interrupting(after=3), shard_size=20)
    shards = tmp_path / f"{out.name}.shards"
    assert sorted(p.name for p in shards.glob("shard-*.parquet")) == ["shard-00000.parquet", "shard-00001.parquet"]
    assert not list(shards.glob(".*tmp*"))  # no half-written shard
    enc = HashEncoder()
    resumed = build_index("none", corpus, out, encoder=enc, shard_size=20)
    assert enc.calls == 4  # shards 2..5 only
    assert not shards.exists()  # removed after the finished build
    whole = build_index("none", corpus, _out(tmp_path, backend, "whole"), encoder=HashEncoder(), shard_size=20)
    texts = [d.text for d in read_corpus(corpus)]
    _same_index(resumed, whole, texts)
    assert resumed.manifest["build"]["shards"] == 6
    resumed.close()
    whole.close()


def test_milvus_insert_cut_off_resumes_without_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("milvus_lite")
    from mimo.index.milvus_store import MilvusStore

    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(120))
    real_add, calls = MilvusStore.add, []

    def cut_off(self, docs, vectors, **kw):
        calls.append(len(docs))
        if len(calls) == 3:  # half of the third shard is in when the process dies
            real_add(self, docs[:10], vectors[:10], **kw)
            raise KeyboardInterrupt
        return real_add(self, docs, vectors, **kw)

    monkeypatch.setattr(MilvusStore, "add", cut_off)
    with pytest.raises(KeyboardInterrupt):
        build_index("none", corpus, tmp_path / "ix.db", encoder=HashEncoder(), shard_size=20, keep_shards=True)
    monkeypatch.undo()
    upserts: list[int] = []
    real_upsert = MilvusStore.upsert
    monkeypatch.setattr(MilvusStore, "upsert", lambda self, d, v, **kw: upserts.append(len(d)) or real_upsert(self, d, v, **kw))
    enc = HashEncoder()
    resumed = build_index("none", corpus, tmp_path / "ix.db", encoder=enc, shard_size=20)
    assert enc.calls == 0 and upserts == [20, 20, 20, 20]  # nothing re-encoded; shards 0-1 not re-inserted
    whole = build_index("none", corpus, tmp_path / "flat", encoder=HashEncoder(), shard_size=20)
    _same_index(resumed, whole, [d.text for d in read_corpus(corpus)])
    ids = [h.id for h in resumed.search("x", k=200)[0]]
    assert len(ids) == len(set(ids)) == 120
    resumed.close()


def test_shard_plans_and_ranges(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(50))
    with pytest.raises(KeyboardInterrupt):
        build_index("none", corpus, tmp_path / "ix", encoder=Interrupting(after=2), shard_size=10)
    other = write_jsonl(tmp_path / "d.jsonl", make_corpus(50, seed=1))
    with pytest.raises(InputError, match="holds shards of another build .*corpus_sha256"):
        build_index("none", other, tmp_path / "ix", encoder=HashEncoder(), shard_size=10)
    with pytest.raises(InputError, match="shard_size"):
        build_index("none", corpus, tmp_path / "ix", encoder=HashEncoder(), shard_size=25)
    with pytest.raises(InputError, match="a FAISS index is built on one machine"):
        build_index("none", corpus, tmp_path / "ix", encoder=HashEncoder(), shard=(0, 2))
    for bad in ("2/2", "1", "a/b", "0/0"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)
    assert parse_shard("1/3") == (1, 3)
    plan = ShardPlan(tmp_path, n=65, size=10)
    ranges = [plan.mine((i, 3)) for i in range(3)]
    assert [list(r) for r in ranges] == [[0, 1], [2, 3], [4, 5, 6]] and plan.span(6) == (60, 65)


def test_progress_shows_rate_and_eta(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import mimo.index.encoding as encoding

    monkeypatch.setattr(encoding, "LOG_EVERY_S", 0.0)
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(40))
    build_index("none", corpus, tmp_path / "ix", encoder=HashEncoder(), shard_size=10, progress=True)
    err = capsys.readouterr().err
    assert "encoding 4 of 4 shards: 20/40 passages" in err and "passages/s, ETA" in err


def test_workers_encode_the_same_vectors(tmp_path: Path) -> None:
    from test_index import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(60))
    one = build_index(str(model), corpus, tmp_path / "one", shard_size=15)
    two = build_index(str(model), corpus, tmp_path / "two", shard_size=15, workers=2)
    assert two.manifest["build"]["workers"] == 2
    a = one.store.index.reconstruct_n(0, 60)
    b = two.store.index.reconstruct_n(0, 60)
    assert np.allclose(a, b, atol=1e-5)
