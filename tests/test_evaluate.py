"""Evaluation: metrics against pytrec_eval and hand computation, views, bias, cache, bad input."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval

from mimo.errors import InputError
from mimo.evaluate import evaluate, evaluate_models, evaluate_run, load_benchmark, per_query
from mimo.evaluate.bench import load_hf
from mimo.evaluate.bias import language_bias, rank_agreement
from mimo.evaluate.metrics import cut_run, read_trec_run, trec_order

TINY = Path(__file__).parent / "fixtures" / "bench" / "tiny"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))


class HashEncoder:
    """Deterministic bag-of-words encoder (hashing trick) with a whitespace 'tokenizer'."""

    name = "hash-bow"
    prompts: dict[str, str] = {}
    max_seq_length = 6

    def __init__(self, dim: int = 64) -> None:
        self.dim, self.calls = dim, 0

    def tokenizer(self, texts, add_special_tokens=True, truncation=False, verbose=True):
        return {"input_ids": [[0] * (len(t.split()) + 2) for t in texts]}

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(
        self,
        texts,
        prompt_name=None,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ):
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(",", " ").replace(".", " ").split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


class TableEncoder(HashEncoder):
    """Maps each known text to a fixed vector: ``key(text)`` picks a one-hot axis."""

    def __init__(self, key) -> None:
        super().__init__(16)
        bench = load_benchmark(TINY)
        self.table = {}
        for r in [*bench.corpus.values(), *bench.queries.values()]:
            full = f"{r['title']} {r['text']}".strip() if r.get("title") else r["text"]
            self.table[full] = key(r)
        self.axes: dict[str, int] = {}

    def encode(self, texts, **kw):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i, self.axes.setdefault(self.table[t], len(self.axes))] = 1.0
        return out


# ---------------------------------------------------------------- metrics vs pytrec_eval / by hand

QRELS = {
    "q1": {"d1": 1, "d2": 0, "d5": 2},
    "q2": {"d9": 1},
    "q3": {"d1": 0},  # no relevant document -> excluded from averages
    "q4": {"d3": 1},  # not in the run -> scores 0
}
RUN = {
    "q1": {"d3": 0.9, "d2": 0.8, "d1": 0.5, "d5": 0.5, "d7": 0.1},  # tie d1/d5
    "q2": {**{f"x{i:02d}": 1.0 - i / 100 for i in range(12)}, "d9": 0.5},  # relevant at rank 13
    "q3": {"d1": 0.2},
}


def test_per_query_matches_pytrec_eval_including_ties():
    ours = per_query(QRELS, RUN)
    measures = {"ndcg_cut.10", "ndcg_cut.20", "recall.100", "map_cut.100", "recip_rank"}
    ref = pytrec_eval.RelevanceEvaluator(QRELS, measures).evaluate(RUN)
    ref_mrr10 = pytrec_eval.RelevanceEvaluator(QRELS, {"recip_rank"}).evaluate(cut_run(RUN, 10))
    assert set(ours) == {"q1", "q2", "q4"}
    for q in ("q1", "q2"):
        assert ours[q]["nDCG@10"] == pytest.approx(ref[q]["ndcg_cut_10"])
        assert ours[q]["nDCG@20"] == pytest.approx(ref[q]["ndcg_cut_20"])
        assert ours[q]["Recall@100"] == pytest.approx(ref[q]["recall_100"])
        assert ours[q]["MAP@100"] == pytest.approx(ref[q]["map_cut_100"])
        assert ours[q]["MRR@10"] == pytest.approx(ref_mrr10[q]["recip_rank"])
    assert all(v == 0.0 for v in ours["q4"].values())
    agg = evaluate_run(QRELS, RUN)
    assert agg["n"] == 3 and agg["n_no_rel"] == 1
    assert agg["nDCG@10"] == pytest.approx(np.mean([ref["q1"]["ndcg_cut_10"], ref["q2"]["ndcg_cut_10"], 0]))


def test_metrics_by_hand():
    pq = per_query(QRELS, RUN)
    # trec_eval order for q1: d3 (0.9), d2 (0.8), then the tie 0.5 by id descending: d5, d1, then d7.
    assert [d for d, _ in trec_order(RUN["q1"])] == ["d3", "d2", "d5", "d1", "d7"]
    dcg = 2 / math.log2(4) + 1 / math.log2(5)  # gains 2 (d5, rank 3), 1 (d1, rank 4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert pq["q1"]["nDCG@10"] == pytest.approx(dcg / idcg)
    assert pq["q1"]["MRR@10"] == pytest.approx(1 / 3)
    assert pq["q1"]["MAP@100"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert pq["q1"]["Recall@100"] == 1.0
    # q2: the only relevant doc is at rank 13 -> outside MRR@10 and nDCG@10, inside nDCG@20.
    assert pq["q2"]["MRR@10"] == 0.0 and pq["q2"]["nDCG@10"] == 0.0
    assert pq["q2"]["nDCG@20"] == pytest.approx(1 / math.log2(14))
    assert pq["q2"]["MAP@100"] == pytest.approx(1 / 13)


# ---------------------------------------------------------------- benchmark I/O and validation


def _copy_tiny(tmp_path: Path) -> Path:
    dst = tmp_path / "bench"
    shutil.copytree(TINY, dst)
    return dst


def _edit_line(path: Path, lineno: int, fn) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[lineno - 1] = fn(lines[lineno - 1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_load_tiny():
    b = load_benchmark(TINY)
    assert len(b.corpus) == 12 and len(b.queries) == 9 and b.langs == ["de", "en", "fr"]
    assert all(len(v) == 3 for v in b.qrels.values())
    assert b.doc_text("d-g1-en").startswith("Tables To insert")


@pytest.mark.parametrize(
    "file,line,edit,expect",
    [
        ("corpus.jsonl", 3, lambda s: s.replace('"d-g1-fr"', '"d-g1-en"'), "corpus.jsonl:3: duplicated _id"),
        ("corpus.jsonl", 5, lambda s: json.dumps({**json.loads(s), "text": "  "}), "corpus.jsonl:5: empty"),
        ("queries.jsonl", 2, lambda s: s.replace('"lang": "de"', '"lang": "xx"'), "queries.jsonl:2: field 'lang': unknown"),
        ("qrels/test.tsv", 4, lambda s: s.replace("d-g1-fr", "nope"), "qrels/test.tsv:4: unknown corpus-id"),
        ("qrels/test.tsv", 2, lambda s: "ghost" + s[s.index("\t") :], "qrels/test.tsv:2: unknown query-id"),
    ],
)
def test_bad_benchmark_rows_are_named(tmp_path, file, line, edit, expect):
    d = _copy_tiny(tmp_path)
    _edit_line(d / file, line, edit)
    with pytest.raises(InputError, match=expect.replace("(", r"\(")):
        load_benchmark(d)
    out = tmp_path / "out"
    with pytest.raises(InputError):
        evaluate_models([HashEncoder()], d, out_dir=out)
    assert not out.exists()  # nothing half-written


def test_unknown_benchmark_name_view_and_not_a_model(tmp_path):
    with pytest.raises(InputError, match="unknown view"):
        evaluate_models([HashEncoder()], TINY, views=["pooled", "mono"])
    with pytest.raises(InputError, match="mlir-nope"):
        load_benchmark("mlir-nope")
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(InputError, match="not a sentence-transformers model"):
        evaluate(str(tmp_path / "notamodel"), TINY)


def test_hf_dataset_layout(tmp_path):
    d = tmp_path / "hf"
    d.mkdir()
    shutil.copy(TINY / "corpus.jsonl", d / "corpus.jsonl")
    shutil.copy(TINY / "queries.jsonl", d / "queries.jsonl")
    rows = [ln.split("\t") for ln in (TINY / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    (d / "qrels.jsonl").write_text(
        "".join(json.dumps({"query-id": q, "corpus-id": c, "score": int(s)}) + "\n" for q, c, s in rows)
    )
    (d / "README.md").write_text(
        "---\nconfigs:\n- config_name: corpus\n  data_files: corpus.jsonl\n"
        "- config_name: queries\n  data_files: queries.jsonl\n"
        "- config_name: default\n  data_files:\n  - split: test\n    path: qrels.jsonl\n---\n"
    )
    b = load_hf(str(d), cache_dir=str(tmp_path / "hf-cache"))
    ref = load_benchmark(TINY)
    assert b.corpus == ref.corpus and b.queries == ref.queries and b.qrels == ref.qrels


# ---------------------------------------------------------------- views, bias, agreement


def test_oracle_encoder_is_perfect_in_every_view():
    r = evaluate(TableEncoder(lambda rec: rec["group"]), TINY, bias_k=3, use_cache=False)
    for view in ("pooled", "cross-lingual", "multi-monolingual"):
        ov = r["views"][view]["overall"]
        assert ov["nDCG@10"] == pytest.approx(1.0) and ov["MRR@10"] == pytest.approx(1.0), view
        assert ov["Recall@100"] == 1.0
    assert r["views"]["pooled"]["overall"]["n"] == 9
    assert r["bias"]["overall"] == pytest.approx(0.0)
    assert r["agreement"]["mrc@3"] == pytest.approx(1.0) and r["agreement"]["top1_agreement"] == 1.0
    # in the cross-lingual view no same-language document is retrieved
    for q, docs in r["runs"]["cross-lingual"].items():
        assert all(d.split("-")[-1] != q.split("-")[-1] for d in docs)
    assert set(r["pairs"]) == {"de", "en", "fr"} and r["pairs"]["de"]["fr"]["nDCG@10"] == pytest.approx(1.0)


def test_language_clustering_encoder_shows_bias():
    # every text maps to its language axis: top-3 of a query is all its own language
    r = evaluate(TableEncoder(lambda rec: rec["lang"]), TINY, bias_k=3, use_cache=False)
    # own share in top-3 = 1, own share of relevant = 1/3 -> bias 2/3 for every query
    assert r["bias"]["overall"] == pytest.approx(2 / 3)
    assert r["bias"]["share"]["de"]["de"] == pytest.approx(1.0)
    assert r["bias"]["per_lang"] == pytest.approx({"de": 2 / 3, "en": 2 / 3, "fr": 2 / 3})


def test_rank_agreement_by_hand():
    b = load_benchmark(TINY)
    run = {  # q-g1-en and q-g1-de share g1, g2 in their distinct top-2; q-g1-fr shares only g1
        "q-g1-en": {"d-g1-en": 3.0, "d-g1-de": 2.9, "d-g2-en": 2.0},
        "q-g1-de": {"d-g2-de": 3.0, "d-g1-de": 2.0},
        "q-g1-fr": {"d-g1-fr": 3.0, "d-g4-fr": 2.0},
    }
    a = rank_agreement(b, run, k=2)
    # pairs: (en,de) overlap 2/2, top1 differ; (en,fr) 1/2, top1 same; (de,fr) 1/2, top1 differ
    assert a["mrc@2"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert a["top1_agreement"] == pytest.approx(1 / 3)
    assert a["per_lang"]["en"]["mrc@2"] == pytest.approx(0.75)
    bias = language_bias(b, run, k=2)
    # en: top2 = en,de -> 1/2 - 1/3; de: de,de -> 1 - 1/3; fr: fr,fr -> 1 - 1/3
    assert bias["per_lang"]["en"] == pytest.approx(1 / 2 - 1 / 3)
    assert bias["overall"] == pytest.approx(((1 / 2 - 1 / 3) + 2 * (2 / 3)) / 3)


# ---------------------------------------------------------------- end to end, cache, files


def test_evaluate_models_writes_files_and_uses_cache(tmp_path):
    enc = HashEncoder()
    res = evaluate_models([enc], TINY, out_dir=tmp_path / "run", labels=["hash"])
    assert enc.calls == 21
    out = res["out_dir"]
    for f in (
        "results.json",
        "comparison.json",
        "comparison.md",
        "models/hash/runs/pooled.trec",
        "models/hash/runs/cross-lingual.trec",
        "models/hash/runs/multi-monolingual.trec",
        "models/hash/results.json",
    ):
        assert (out / f).is_file(), f
    r = res["results"][0]
    md = (out / "comparison.md").read_text()
    assert "| hash |" in md and "hash: nDCG@10 per (query language, document language)" in md
    # the TREC file re-scores to the same numbers
    rescored = evaluate_run(load_benchmark(TINY).qrels, read_trec_run(out / "models/hash/runs/pooled.trec"))
    assert rescored["nDCG@10"] == pytest.approx(r["views"]["pooled"]["overall"]["nDCG@10"], abs=1e-6)
    # truncation: max_seq_length 6, tokens = words + 2
    n_long = sum(len(load_benchmark(TINY).doc_text(d).split()) + 2 > 6 for d in load_benchmark(TINY).corpus)
    assert r["encode"]["corpus"]["n_truncated"] == n_long > 0
    # second run: everything from the cache, same numbers
    enc2 = HashEncoder()
    r2 = evaluate(enc2, TINY)
    assert enc2.calls == 0 and r2["encode"]["corpus"]["n_encoded"] == 0
    assert r2["encode"]["corpus"]["n_truncated"] == n_long
    assert r2["views"]["pooled"]["overall"] == r["views"]["pooled"]["overall"]


def test_two_models_table_marks_best(tmp_path):
    res = evaluate_models(
        [TableEncoder(lambda r: r["group"]), TableEncoder(lambda r: r["lang"])],
        TINY,
        labels=["oracle", "clustered"],
        use_cache=False,
    )
    tab = res["table"]
    i = tab["columns"].index("pooled nDCG@10")
    assert tab["rows"][0]["best"][i] and not tab["rows"][1]["best"][i]
    j = tab["columns"].index("lang bias@10")
    assert tab["rows"][0]["best"][j]


def test_prompts_are_prepended_and_overridable():
    class Prompted(HashEncoder):
        prompts = {"query": "query: ", "passage": "passage: "}

        def encode(self, texts, **kw):
            self.seen = getattr(self, "seen", []) + list(texts)
            return super().encode(texts, **kw)

    enc = Prompted()
    evaluate(enc, TINY, use_cache=False)
    assert "query: insert table" in enc.seen and any(t.startswith("passage: Tables") for t in enc.seen)
    enc = Prompted()
    r = evaluate(enc, TINY, use_cache=False, query_prompt="", passage_prompt="doc: ")
    assert "insert table" in enc.seen and r["prompts"] == {"query": "", "passage": "doc: "}


def test_mteb_pooled_task_agrees_with_our_metrics(tmp_path, monkeypatch):
    mteb = pytest.importorskip("mteb")
    from mimo.evaluate.mteb_task import pooled_task

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = pooled_task(TINY)
    assert task.metadata.name == "MimoTinyPooled"
    assert task.metadata.eval_langs == ["deu-Latn", "eng-Latn", "fra-Latn"]
    model = mteb.get_model("mteb/baseline-random-encoder")  # deterministic, in mteb's registry, offline
    res = mteb.evaluate(model, task, cache=None, prediction_folder=tmp_path, show_progress_bar=False)
    scores = res.task_results[0].scores["test"][0]
    preds = json.loads((tmp_path / "MimoTinyPooled_predictions.json").read_text())["default"]["test"]
    ours = evaluate_run(load_benchmark(TINY).qrels, preds)
    assert scores["ndcg_at_10"] == pytest.approx(ours["nDCG@10"], abs=1e-4)
    assert scores["recall_at_100"] == pytest.approx(ours["Recall@100"], abs=1e-4)
    assert scores["mrr_at_10"] == pytest.approx(ours["MRR@10"], abs=1e-4)


def _tiny_st_model(tmp_path: Path) -> Path:
    """A 1-layer BERT sentence-transformers model over the fixture's words (built offline, seconds)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    b = load_benchmark(TINY)
    words = sorted(
        {
            w
            for r in [*b.corpus.values(), *b.queries.values()]
            for w in f"{r.get('title', '')} {r['text']}".lower().replace(",", " ").split()
        }
    )
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    tok = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(tmp_path / "bert")
    tok.save_pretrained(tmp_path / "bert")
    st = SentenceTransformer(modules=[Transformer(str(tmp_path / "bert"), max_seq_length=8), Pooling(32, "mean")], device="cpu")
    st.save(str(tmp_path / "st"))
    return tmp_path / "st"


def test_real_sentence_transformer_path(tmp_path):
    path = _tiny_st_model(tmp_path)
    r = evaluate(str(path), TINY)
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(path), device="cpu")
    lens = [len(x) for x in st.tokenizer([load_benchmark(TINY).doc_text(d) for d in load_benchmark(TINY).corpus])["input_ids"]]
    assert r["max_seq_length"] == 8 and r["dim"] == 32
    assert r["encode"]["corpus"]["n_truncated"] == sum(n > 8 for n in lens) > 0
    assert r["encode"]["corpus"]["max_tokens"] == max(lens)
    # same weights -> same fingerprint -> everything from the cache; changed weights -> new fingerprint
    r2 = evaluate(st, TINY)
    assert r2["fingerprint"] == r["fingerprint"] and r2["encode"]["corpus"]["n_encoded"] == 0
    assert r2["views"]["pooled"]["overall"] == pytest.approx(r["views"]["pooled"]["overall"])
    import torch

    with torch.no_grad():
        next(st.parameters()).add_(0.01)
    from mimo.evaluate.encode import model_fingerprint

    assert model_fingerprint(st) != r["fingerprint"]


def test_encode_cache_concurrent_writers_do_not_clobber(tmp_path):
    from mimo.evaluate.encode import EncodeCache

    a = EncodeCache("fp", "query: ", 8, True, root=tmp_path)
    b = EncodeCache("fp", "query: ", 8, True, root=tmp_path)  # opened before a writes: a second process
    a.add(["h1", "h2"], np.array([[1.0, 0], [0, 1.0]]), [3, 4])
    b.add(["h3"], np.array([[0.5, 0.5]]), [9])
    a.add(["h4"], np.array([[2.0, 2.0]]), None)
    c = EncodeCache("fp", "query: ", 8, True, root=tmp_path)
    assert set(c.vecs) == {"h1", "h2", "h3", "h4"}
    assert c.vecs["h3"].tolist() == [0.5, 0.5] and c.ntok == {"h1": 3, "h2": 4, "h3": 9}
    assert EncodeCache("fp", "passage: ", 8, True, root=tmp_path).vecs == {}  # other prompt, other key


def test_encode_texts_batches_by_length_and_returns_input_order():
    from mimo.evaluate.encode import encode_texts

    class Recorder:
        batches: list[list[str]] = []

        def encode(self, texts, **kw):
            self.batches.append(list(texts))
            return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)

    texts = ["a" * n for n in (9, 1, 7, 3, 8, 2)] + ["b" * 3, "a" * 9]  # a duplicate is encoded once
    enc = Recorder()
    out, stats = encode_texts(enc, texts, normalize=False, use_cache=False, chunk=3)
    assert out.tolist() == [[len(t), ord(t[0])] for t in texts]
    assert stats.n == 8 and stats.n_encoded == 7
    assert [[len(t) for t in b] for b in enc.batches] == [[1, 2, 3], [3, 7, 8], [9]]


def test_evaluate_models_tests_the_reference_against_each_model(tmp_path):
    from mimo.evaluate import paired_test

    res = evaluate_models(
        [TableEncoder(lambda r: r["lang"]), TableEncoder(lambda r: r["group"]), HashEncoder()],
        TINY,
        out_dir=tmp_path / "run",
        labels=["clustered", "oracle", "hash"],
        use_cache=False,
        paired_ref="oracle",
    )
    paired = res["paired"]
    assert [(p["a"], p["b"]) for p in paired] == [("oracle", "clustered"), ("oracle", "hash")]
    pq = {r["model"]: {q: v["nDCG@10"] for q, v in r["views"]["pooled"]["per_query"].items()} for r in res["results"]}
    groups = {q: r["group"] for q, r in load_benchmark(TINY).queries.items()}
    want = paired_test(pq["oracle"], pq["clustered"], groups)
    assert paired[0]["diff"] == pytest.approx(want["diff"]) and paired[0]["p_value"] == pytest.approx(want["p_value"])
    assert paired[0]["diff"] > 0 and paired[0]["n_groups"] == len(set(groups.values()))
    written = json.loads((res["out_dir"] / "paired.json").read_text())
    assert written[0]["b"] == "clustered"
    assert "Paired tests: oracle vs each model" in (res["out_dir"] / "comparison.md").read_text()
    with pytest.raises(InputError, match="'nope' is not among"):
        evaluate_models([HashEncoder(), HashEncoder()], TINY, labels=["a", "b"], paired_ref="nope")


def test_per_kind_breakdown_matches_per_query_means(tmp_path):
    bench = _copy_tiny(tmp_path)
    qpath = bench / "queries.jsonl"
    rows = [json.loads(line) for line in qpath.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["kind"] = "question" if r["group"] == "g1" else "task"
    qpath.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert load_benchmark(bench).kinds == ["question", "task"] and load_benchmark(TINY).kinds == []
    res = evaluate_models([HashEncoder()], bench, out_dir=tmp_path / "run", labels=["hash"], use_cache=False)
    r = res["results"][0]
    kind = {q["_id"]: q["kind"] for q in rows}
    for view in ("pooled", "cross-lingual"):
        pq = r["views"][view]["per_query"]
        for k in ("question", "task"):
            ids = [q for q in pq if kind[q] == k]
            got = r["views"][view]["per_kind"][k]
            assert got["n"] == len(ids) > 0
            assert got["nDCG@10"] == pytest.approx(np.mean([pq[q]["nDCG@10"] for q in ids]))
    mono = r["views"]["multi-monolingual"]
    ids = [q for q in mono["per_query"] if kind[q] == "task"]
    macro = np.mean([np.mean([mono["per_query"][q]["nDCG@10"] for q in ids if q.endswith(lg)]) for lg in ("en", "de", "fr")])
    assert mono["per_kind"]["task"]["nDCG@10"] == pytest.approx(macro)
    md = (res["out_dir"] / "comparison.md").read_text()
    assert "pooled: nDCG@10 per query kind" in md and "question (n=3)" in md
    plain = evaluate(HashEncoder(), TINY, use_cache=False)
    assert plain["views"]["pooled"]["per_kind"] == {}
