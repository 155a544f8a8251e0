"""mimo.index: corpus validation, exact/approximate search against brute force, updates, crash safety."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mimo.errors import InputError
from mimo.index import Doc, SearchIndex, build_index, read_corpus, recall_at_k

WORDS = {
    "en": "the quick brown fox jumps over lazy dog river city music night".split(),
    "de": "der schnelle braune fuchs springt über faulen hund fluss stadt musik nacht".split(),
    "fr": "le renard brun rapide saute sur chien paresseux rivière ville musique nuit".split(),
    "ru": "быстрая коричневая лиса прыгает через ленивую собаку река город музыка ночь".split(),
    "zh": "快速 的 棕色 狐狸 跳过 懒惰 狗 河流 城市 音乐 夜晚 天空".split(),
}


def build_tiny_model(out: Path) -> Path:
    """A 2-layer, hidden-32 BERT sentence-transformer with a WordPiece vocab trained on WORDS."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    texts = [" ".join(ws) for ws in WORDS.values()] * 3 + ["query: passage:"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=64)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    hf = out / "hf"
    BertModel(cfg).save_pretrained(hf)
    fast.save_pretrained(hf)
    modules = [Transformer(str(hf), max_seq_length=64), Pooling(32, "mean"), Normalize()]
    prompts = {"query": "query: ", "passage": "passage: "}
    st = SentenceTransformer(modules=modules, prompts=prompts, device="cpu")
    st.save(str(out / "st"))
    return out / "st"


def make_corpus(n: int = 120, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    langs = list(WORDS)
    rows = []
    for i in range(n):
        lang = langs[i % len(langs)]
        words = rng.choice(WORDS[lang], size=int(rng.integers(3, 9)))
        title = f"T{i}" if i % 7 == 0 else None
        rows.append({"id": f"p{i}", "text": " ".join(words), "lang": lang, "title": title})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def encoder(tiny_model: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_model), device="cpu")


# ----------------------------------------------------------------------------- corpus reading


@pytest.mark.parametrize(("rows", "needle"), [
    ([{"id": "a", "text": "x"}, {"text": "y"}], "line 2: missing field 'id'"),
    ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "line 2: duplicate id 'a'"),
    ([{"id": "a", "text": "   "}], "line 1: field 'text' is empty"),
    ([{"id": "a"}], "line 1: missing or non-string field 'text'"),
    ([{"id": "a", "text": "x", "lang": "klingon"}], "line 1: field 'lang'"),
    ([{"id": ["a"], "text": "x"}], "field 'id' must be"),
])
def test_corpus_errors_name_file_row_field(tmp_path: Path, rows: list[dict], needle: str) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(InputError, match=None) as e:
        read_corpus(path)
    assert str(path) in str(e.value) and needle in str(e.value)


def test_corpus_formats(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "bad.jsonl").write_text('{"id": "a", "text": "x"}\n{oops\n')
    with pytest.raises(InputError, match=r"bad.jsonl: line 2: invalid JSON"):
        read_corpus(tmp_path / "bad.jsonl")
    (tmp_path / "c.csv").write_text("id,text,lang,source\n1,hello,en_US,web\n2,hallo,de,web\n")
    docs = read_corpus(tmp_path / "c.csv")
    web = {"source": "web"}
    assert [(d.id, d.lang, d.meta) for d in docs] == [("1", "en", web), ("2", "de", web)]
    (tmp_path / "e.csv").write_text("id,text\n1,hello\n2,\n")
    with pytest.raises(InputError, match=r"e.csv: row 3: field 'text' is empty"):
        read_corpus(tmp_path / "e.csv")
    table = pa.table({"_id": ["x", "y"], "text": ["a b", "c d"], "title": ["T", None]})
    pq.write_table(table, tmp_path / "c.parquet")
    assert [(d.id, d.title) for d in read_corpus(tmp_path / "c.parquet")] == [("x", "T"), ("y", None)]
    txt = tmp_path / "txt"
    (txt / "sub").mkdir(parents=True)
    (txt / "a.de.txt").write_text("hallo welt")
    (txt / "sub" / "b.txt").write_text("plain")
    want = [("a", "de", "hallo welt"), ("sub/b", None, "plain")]
    assert [(d.id, d.lang, d.text) for d in read_corpus(txt)] == want
    with pytest.raises(InputError, match="unsupported corpus format"):
        (tmp_path / "c.xml").write_text("<x/>")
        read_corpus(tmp_path / "c.xml")


# ----------------------------------------------------------------------------- search


def _brute(vecs: np.ndarray, q: np.ndarray, k: int, keep: np.ndarray | None = None) -> list[int]:
    s = vecs @ q
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    order = np.argsort(-s, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(s[i])]


def test_flat_search_matches_brute_force(tmp_path: Path, tiny_model: Path, encoder) -> None:
    rows = make_corpus()
    corpus = write_jsonl(tmp_path / "c.jsonl", rows)
    idx = build_index(str(tiny_model), corpus, tmp_path / "ix", encoder=encoder)
    m = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    prompts = {"query": "query: ", "passage": "passage: "}
    assert (m["kind"], m["count"], m["dim"], m["prompts"]) == ("flat", 120, 32, prompts)
    assert m["model"] == str(tiny_model.resolve())
    texts = [(f"{r['title']} {r['text']}" if r["title"] else r["text"]) for r in rows]
    vecs = encoder.encode(texts, prompt_name="passage", normalize_embeddings=True)
    queries = ["quick fox", "schnelle musik", "город ночь", "狐狸 音乐"]
    qv = encoder.encode(queries, prompt_name="query", normalize_embeddings=True)
    got = SearchIndex.load(tmp_path / "ix").search(queries, k=5)
    langs = np.array([r["lang"] for r in rows])
    filtered = idx.search(queries, k=5, langs=["de", "ru"])
    for q, hits, fhits in zip(qv, got, filtered, strict=True):
        assert [h.id for h in hits] == [f"p{i}" for i in _brute(vecs, q, 5)]
        assert hits[0].score == pytest.approx(float(vecs[int(hits[0].id[1:])] @ q), abs=1e-5)
        assert [h.id for h in fhits] == [f"p{i}" for i in _brute(vecs, q, 5, np.isin(langs, ["de", "ru"]))]
        assert {h.lang for h in fhits} <= {"de", "ru"}


def test_add_delete_persist_and_validate(tmp_path: Path, tiny_model: Path, encoder) -> None:
    rows = make_corpus(40)
    docs = [Doc(r["id"], r["text"], r["lang"]) for r in rows]
    build_index(str(tiny_model), docs, tmp_path / "ix", encoder=encoder)
    idx = SearchIndex.load(tmp_path / "ix", encoder=encoder)
    assert idx.add([Doc("new", "unique zebra words", "en")]) == 41
    assert idx.search("unique zebra words", k=1)[0][0].id == "new"
    with pytest.raises(InputError, match="already in the index: 'new'"):
        idx.add([Doc("new", "again")])
    assert idx.delete(["new", "p0"]) == 39
    with pytest.raises(InputError, match="not in the index: 'nope'"):
        idx.delete(["nope"])
    again = SearchIndex.load(tmp_path / "ix", encoder=encoder)
    assert len(again) == 39 and again.store.index.ntotal == 39 and again.manifest["generation"] == "g000002"
    ids = {h.id for h in again.search("unique zebra words", k=39)[0]}
    assert "new" not in ids and "p0" not in ids and len(ids) == 39
    assert sorted(p.name for p in (tmp_path / "ix").iterdir() if p.name.startswith("g")) == ["g000002"]


def test_approximate_indexes_report_recall_and_delete(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n, d = 3000, 32
    vecs = rng.standard_normal((n, d)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = [Doc(f"v{i}", f"text {i}", "en" if i % 2 else "de") for i in range(n)]
    for kind in ("hnsw", "ivfpq"):
        idx = build_index("none", docs, tmp_path / kind, kind=kind, vectors=vecs)
        r = idx.manifest["recall_at_10_vs_exact"]
        assert 0.0 < r <= 1.0
        if kind == "hnsw":
            assert r > 0.9
        idx.delete(["v5"])
        hits = SearchIndex.load(tmp_path / kind).search_vectors(vecs[5:6], k=10, langs=["en"])[0]
        assert "v5" not in [h.id for h in hits] and {h.lang for h in hits} == {"en"}
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k(exact, np.array([[3, 2, 9], [7, 8, 9]]), 3) == pytest.approx((2 / 3 + 0) / 2)


def test_mmap_load_matches_in_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((200, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    build_index("none", [Doc(str(i), "t") for i in range(200)], tmp_path / "ix", vectors=vecs)
    a = SearchIndex.load(tmp_path / "ix", mmap=True).search_vectors(vecs[:5], 7)
    b = SearchIndex.load(tmp_path / "ix", mmap=False).search_vectors(vecs[:5], 7)
    assert [[h.id for h in x] for x in a] == [[h.id for h in x] for x in b]
    assert [x[0].id for x in a] == ["0", "1", "2", "3", "4"]


def test_crash_mid_build_or_update_keeps_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mimo.index.faiss_store as mi

    vecs = np.eye(8, dtype=np.float32)
    build_index("none", [Doc(str(i), "t") for i in range(8)], tmp_path / "ix", vectors=vecs)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mi, "_write_generation", boom)
    with pytest.raises(RuntimeError):
        build_index("none", [Doc("x", "t")], tmp_path / "ix", vectors=vecs[:1])
    with pytest.raises(RuntimeError):
        SearchIndex.load(tmp_path / "ix").add_vectors([Doc("y", "t")], vecs[:1])
    monkeypatch.undo()
    idx = SearchIndex.load(tmp_path / "ix")
    assert len(idx) == 8 and idx.manifest["generation"] == "g000000"
    assert [p.name for p in tmp_path.iterdir()] == ["ix"]  # no temp dirs left behind
    assert sorted(p.name for p in (tmp_path / "ix").iterdir()) == [".lock", "g000000", "manifest.json"]


KILL_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from mimo.index import Doc, SearchIndex
    idx = SearchIndex.load(sys.argv[1])
    rng = np.random.default_rng(0)
    for i in range(10_000):
        v = rng.standard_normal((50, 16)).astype(np.float32)
        idx.add_vectors([Doc(f"b{i}-{j}", "t") for j in range(50)], v)
        print(f"committed {i}", flush=True)
""")


def test_kill_during_updates_loses_nothing_committed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    build_index("none", [Doc(f"s{i}", "t") for i in range(2000)], tmp_path / "ix",
                vectors=rng.standard_normal((2000, 16)).astype(np.float32))
    cmd = [sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "ix")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    committed = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            committed.append(int(line.split()[1]))
            if len(committed) >= 5:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    idx = SearchIndex.load(tmp_path / "ix")
    ids = {d.id for d in idx.store.docs.values()}
    assert all(f"b{i}-{j}" in ids for i in committed for j in range(50))
    assert idx.store.index.ntotal == len(idx) >= 2000 + 50 * len(committed)


def test_cli_build_add_delete_info_search(tmp_path: Path, tiny_model: Path) -> None:
    from typer.testing import CliRunner

    from mimo.cli import app

    run = CliRunner().invoke
    corpus = write_jsonl(tmp_path / "c.jsonl", make_corpus(30))
    r = run(app, ["index", "build", str(tiny_model), str(corpus), "--out", str(tmp_path / "ix")])
    assert r.exit_code == 0, r.output
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "z1", "text": "zebra zebra", "lang": "en"}])
    assert run(app, ["index", "add", str(tmp_path / "ix"), str(more)]).exit_code == 0
    assert run(app, ["index", "delete", str(tmp_path / "ix"), "p0", "p1"]).exit_code == 0
    info = json.loads(run(app, ["index", "info", str(tmp_path / "ix"), "--json"]).stdout)
    assert (info["count"], info["kind"], info["generation"]) == (29, "flat", "g000002")
    r = run(app, ["search", str(tmp_path / "ix"), "zebra zebra", "-k", "3", "--json", "--lang", "en"])
    hits = json.loads(r.stdout)[0]["hits"]
    assert hits[0]["id"] == "z1" and {h["lang"] for h in hits} == {"en"}
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "text": ""}])
    r = run(app, ["index", "build", str(tiny_model), str(bad), "--out", str(tmp_path / "ix2")])
    assert r.exit_code == 1 and "line 1: field 'text' is empty" in r.output
    assert run(app, ["search", str(tmp_path / "ix"), "x", "-k", "0"]).exit_code == 1
    assert not (tmp_path / "ix2").exists()
