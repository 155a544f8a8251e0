"""Training on chosen query kinds: ``TrainConfig.query_kinds`` / ``mimo train --query-kinds``."""

from __future__ import annotations

import datasets
import pytest

from mimo.errors import InputError
from mimo.train import TrainConfig
from mimo.train.data import load_retrieval

ROWS = [  # (pair_id, kind, query en, query de)
    ("p1", "question", "Where do I get color profiles?", "Wo bekomme ich Farbprofile?"),
    ("p2", "task", "Change the screen brightness", "Bildschirmhelligkeit ändern"),
    ("p3", "heading", "Keyboard", "Tastatur"),
    ("p4", "index term", "anchors, changing", "Anker, ändern"),
]


@pytest.fixture
def ret(tmp_path):
    cols: dict[str, list] = {c: [] for c in ("pair_id", "lang", "query", "passage", "source", "kind")}
    for pid, kind, en, de in ROWS:
        for lang, q in (("en", en), ("de", de)):
            for c, v in zip(cols, (pid, lang, q, f"passage of {pid} in {lang}", "fixture", kind), strict=True):
                cols[c].append(v)
    path = tmp_path / "ret"
    datasets.Dataset.from_dict(cols).save_to_disk(str(path))
    return path, cols


def test_select_query_kinds(ret):
    path, _ = ret
    assert set(load_retrieval(str(path), None, None).pairs) == {"p1", "p2", "p3", "p4"}
    got = load_retrieval(str(path), None, None, ["question", "task"])
    assert set(got.pairs) == {"p1", "p2"} and got.pairs["p2"]["de"][0] == "Bildschirmhelligkeit ändern"
    assert set(load_retrieval(str(path), None, None, ["index term"]).pairs) == {"p4"}
    # max_rows caps after the kind selection (whole pairs: 2 rows each)
    assert len(load_retrieval(str(path), None, 2, ["question", "task"]).pairs) == 1


def test_query_kinds_errors_are_clear(ret, tmp_path):
    path, cols = ret
    with pytest.raises(InputError, match="no rows of query kind"):
        load_retrieval(str(path), None, None, ["nope"])
    old = tmp_path / "old"
    datasets.Dataset.from_dict({k: v for k, v in cols.items() if k != "kind"}).save_to_disk(str(old))
    with pytest.raises(InputError, match="no 'kind' field.*mimo data build"):
        load_retrieval(str(old), None, None, ["question"])
    assert TrainConfig(query_kinds=["question", "index-term"]).validate().query_kinds == ["question", "index term"]
    assert TrainConfig(query_kinds="task").validate().query_kinds == ["task"]
    with pytest.raises(InputError, match="query_kinds.*unknown query kind 'questions'"):
        TrainConfig(query_kinds=["questions"]).validate()
