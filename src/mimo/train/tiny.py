"""A tiny random SentenceTransformer for tests and CPU smoke runs (seconds, no downloads)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path


def build_tiny_student(
    out: str | Path,
    texts: Iterable[str],
    *,
    hidden: int = 32,
    layers: int = 2,
    seed: int = 0,
    prompts: dict[str, str] | None = None,
) -> Path:
    """Write a 2-layer random BERT with a word-level tokenizer over ``texts``'s words to ``out``.

    Loads with plain ``SentenceTransformer(out)``; mean pooling; prompts default to mE5's
    ``query: `` / ``passage: ``.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out = Path(out)
    found = {w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())}
    words = sorted(found | {"query", "passage", ":"})
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    from tokenizers import normalizers, processors

    tok.normalizer = normalizers.Lowercase()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=128,
    )
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=hidden * 2, max_position_embeddings=128,
    )
    raw = out / "_hf"
    BertModel(cfg).save_pretrained(raw)
    hf_tok.save_pretrained(raw)
    tr = Transformer(str(raw), max_seq_length=64)
    model = SentenceTransformer(
        modules=[tr, Pooling(hidden, "mean")],
        prompts=prompts or {"query": "query: ", "passage": "passage: "},
        device="cpu",
    )
    model.save(str(out))
    import shutil

    shutil.rmtree(raw, ignore_errors=True)
    return out


_WORDS = {
    "en": "red blue green house tree river stone light water book door city road sun moon".split(),
    "de": "rot blau grün haus baum fluss stein licht wasser buch tür stadt straße sonne mond".split(),
    "fr": (
        "rouge bleu vert maison arbre rivière pierre lumière eau livre porte ville route soleil lune"
    ).split(),
}


def _sentence(i: int, lang: str, n: int = 6) -> str:
    w = _WORDS[lang]
    return " ".join(w[(i * 7 + k * (i % 5 + 1)) % len(w)] for k in range(n + i % 4))


def tiny_parallel(n_units: int = 40, langs: tuple[str, ...] = ("de", "fr")):
    """A parallel dataset in the documented schema: word-for-word 'translations' + en identity rows."""
    import datasets

    rows: dict[str, list] = {k: [] for k in ("english", "translation", "lang", "source", "unit_id", "split")}
    for i in range(n_units):
        en = _sentence(i, "en")
        for lang in ("en", *langs):
            rows["english"].append(en)
            rows["translation"].append(_sentence(i, lang))
            rows["lang"].append(lang)
            rows["source"].append("tiny")
            rows["unit_id"].append(f"tiny:{i}")
            rows["split"].append("train")
    return datasets.Dataset.from_dict(rows)


def tiny_retrieval(n_pairs: int = 40, langs: tuple[str, ...] = ("de", "fr")):
    """A retrieval-train dataset in the documented schema (every pair_id has an en row)."""
    import datasets

    rows: dict[str, list] = {k: [] for k in ("pair_id", "lang", "query", "passage", "source")}
    for i in range(n_pairs):
        for lang in ("en", *langs):
            rows["pair_id"].append(f"p{i}")
            rows["lang"].append(lang)
            rows["query"].append(_sentence(i, lang, 3))
            rows["passage"].append(_sentence(i + 1000, lang, 8) + " " + _sentence(i, lang, 3))
            rows["source"].append("tiny")
    return datasets.Dataset.from_dict(rows)


def tiny_texts() -> list[str]:
    return [w for ws in _WORDS.values() for w in ws]
