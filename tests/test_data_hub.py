"""Hub dataset loaders on local fixtures in the hub layout (README configs + parquet / jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimo.data import hub
from mimo.errors import InputError, MimoError

FIX = Path(__file__).parent / "fixtures" / "hub"
PARALLEL = FIX / "parallel-sentences-gnome"
MMARCO = FIX / "mmarco-gnome"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "hf-cache"


def test_parallel_sentences_schema_and_known_pair(cache):
    ds = hub.load_parallel_sentences(PARALLEL, "ja", cache_dir=cache)
    assert ds.column_names == list(hub.PARALLEL_COLUMNS)
    assert len(ds) == 15
    row = ds[1]
    assert (row["english"], row["translation"]) == ("Turn on bounce keys", "バウンスキーを有効にする")
    assert (row["lang"], row["split"], row["source"]) == ("ja", "train", "hub:parallel-sentences-gnome")
    assert row["unit_id"] == "hub:parallel-sentences-gnome:en-ja:train:1"
    assert len(set(ds["unit_id"])) == len(ds) and set(ds["lang"]) == {"ja"}


def test_parallel_sentences_subset_by_locale(cache):
    # no "en-pt" subset: the one whose locale maps to pt ("en-pt-br") is used
    ds = hub.load_parallel_sentences(PARALLEL, "pt", cache_dir=cache)
    assert ds[1]["translation"] == "Ativando teclas de repercussão" and set(ds["lang"]) == {"pt"}
    assert ds[1]["unit_id"] == "hub:parallel-sentences-gnome:en-pt-br:train:1"


def test_parallel_sentences_limit_streaming_and_single_file(cache):
    full = hub.load_parallel_sentences(PARALLEL, "de", cache_dir=cache)
    assert full[0]["translation"] == "Schnell wiederholtes Drücken derselben Tasten ignorieren."
    assert hub.load_parallel_sentences(PARALLEL, "de", limit=4, cache_dir=cache)["translation"] == (
        full["translation"][:4])
    streamed = hub.load_parallel_sentences(PARALLEL, "de", limit=2, streaming=True, cache_dir=cache)
    assert streamed.to_list() == full.select(range(2)).to_list()
    shard = PARALLEL / "en-de" / "train-00000-of-00001.parquet"
    one = hub.load_parallel_sentences(shard, "de", cache_dir=cache)
    assert one["translation"] == full["translation"]
    assert one[0]["source"] == "hub:parallel-sentences-gnome/en-de"


def test_parallel_sentences_drops_empty_rows(tmp_path, cache):
    rows = [{"english": "Turn on bounce keys", "non_english": "Springende Tasten aktivieren"},
            {"english": "Turn on slow keys", "non_english": ""},
            {"english": " ", "non_english": "Tastenverzögerung einschalten"}]
    f = tmp_path / "pairs.jsonl"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    ds = hub.load_parallel_sentences(f, "de", cache_dir=cache)
    assert ds["translation"] == ["Springende Tasten aktivieren"]
    assert ds["unit_id"] == ["hub:pairs:en-de:train:0"]


def test_parallel_sentences_bad_input(tmp_path, cache):
    f = tmp_path / "wrong.jsonl"
    f.write_text(json.dumps({"english": "Turn on bounce keys", "translation": "Springende Tasten"}) + "\n")
    want = r"wrong\.jsonl: missing column 'non_english' \(found: english, translation\)"
    with pytest.raises(InputError, match=want):
        hub.load_parallel_sentences(f, "de", cache_dir=cache)
    with pytest.raises(InputError, match=r"'en-ko' not found.*en-de"):
        hub.load_parallel_sentences(PARALLEL, "ko", cache_dir=cache)
    with pytest.raises(InputError, match="no such file"):
        hub.load_parallel_sentences(tmp_path / "nothere" / "x", "de", cache_dir=cache)
    with pytest.raises(InputError, match="streaming=True needs a limit"):
        hub.load_parallel_sentences(PARALLEL, "de", streaming=True, cache_dir=cache)
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        hub.load_parallel_sentences(PARALLEL, "xx", cache_dir=cache)


def test_hub_unreachable_is_one_clear_error(monkeypatch, cache):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(MimoError, match="cannot reach the Hugging Face hub .*pass a local copy"):
        hub.load_parallel_sentences("sentence-transformers/parallel-sentences-talks", "de", cache_dir=cache)


def test_mmarco_style_rows_align_across_languages(cache):
    de = hub.load_mmarco_style(MMARCO, "de", cache_dir=cache)  # config "german"
    en = hub.load_mmarco_style(MMARCO, "en", cache_dir=cache)  # config "english"
    assert de.column_names == list(hub.RETRIEVAL_COLUMNS) and len(de) == len(en) == 5
    assert de["pair_id"] == en["pair_id"] == [f"hub:mmarco-gnome:train:{i}" for i in range(5)]
    assert (en[0]["query"], de[0]["query"]) == ("Turn on bounce keys", "Springende Tasten aktivieren")
    assert de[0]["passage"].startswith("Schalten Sie Springende Tasten ein,")
    assert set(de["lang"]) == {"de"} and set(en["source"]) == {"hub:mmarco-gnome"}
    neg = hub.load_mmarco_style(MMARCO, "de", keep_negative=True, limit=2, cache_dir=cache)
    assert neg.column_names == [*hub.RETRIEVAL_COLUMNS, "negative"] and len(neg) == 2
    assert neg[0]["negative"] == de[1]["passage"]  # the fixture's negative is the next page's paragraph


def test_mmarco_style_aliases_and_missing_columns(tmp_path, cache):
    f = tmp_path / "triplets.jsonl"
    row = {"anchor": "Turn on slow keys", "pos": "Turn on slow keys if ...", "neg": "x"}
    f.write_text(json.dumps(row) + "\n")
    ds = hub.load_mmarco_style(f, "en", cache_dir=cache)
    assert (ds[0]["query"], ds[0]["passage"]) == ("Turn on slow keys", "Turn on slow keys if ...")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"query": "Turn on slow keys", "passage": "Turn on slow keys if ..."}) + "\n")
    with pytest.raises(InputError, match=r"bad\.jsonl: missing column 'positive' or 'pos'"):
        hub.load_mmarco_style(bad, "en", cache_dir=cache)
    pairs = tmp_path / "pairs-only.jsonl"
    pairs.write_text(json.dumps({"query": "Turn on slow keys", "positive": "If ..."}) + "\n")
    assert len(hub.load_mmarco_style(pairs, "en", cache_dir=cache)) == 1
    with pytest.raises(InputError, match=r"pairs-only\.jsonl: missing column 'negative' or 'neg'"):
        hub.load_mmarco_style(pairs, "en", keep_negative=True, cache_dir=cache)
    with pytest.raises(InputError, match="Unknown split"):
        hub.load_mmarco_style(MMARCO, "de", split="dev", cache_dir=cache)
