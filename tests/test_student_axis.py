"""benchmarks/student_axis.py on tiny models: equal step budgets per student, shared Stage 1, imported
budget-curve points, the summary (points, seed-aware comparisons, English gap); and the en-hard view."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "tests" / "fixtures" / "bench" / "tiny"


def _load(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def sa():
    _load("budget_curve")
    return _load("student_axis")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mimo.train.tiny import build_tiny_student, tiny_parallel, tiny_retrieval, tiny_texts

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("axis")
    texts = tiny_texts() + [json.loads(line)["text"] for f in ("queries.jsonl", "corpus.jsonl")
                            for line in (BENCH / f).read_text().splitlines()]
    student = build_tiny_student(root / "student", texts, hidden=32)
    teacher = build_tiny_student(root / "teacher", texts, hidden=48, seed=1)
    tiny_parallel().save_to_disk(str(root / "par"))
    tiny_retrieval().save_to_disk(str(root / "ret"))
    recipe = {
        "teachers": {"minilm": str(teacher)}, "seeds": [0, 1], "methods": ["mimo", "xlco", "kd"],
        "benches": [str(BENCH)], "stage1_share": 0.34,
        "stage2_lr": {"mimo": 1e-3, "xlco": 1e-3, "kd": 1e-3, "lakda": 1e-3},
        "train": {"parallel_path": str(root / "par"), "retrieval_path": str(root / "ret"),
                  "teacher_cache": str(root / "cache"), "batch_size": 8, "stage2_batch_size": 8, "lr": 1e-3,
                  "max_length": 32, "eval_rows": 0, "checkpoint_every": 0},
        "students": {
            "ep": {"student": str(student), "epochs": 1, "extra": {"mimo-2ep": [0]}},
            "steps": {"student": str(student), "budget": 3},
        },
    }
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    yield root, recipe
    torch.set_num_threads(n)


def test_parse_method_and_labels(sa):
    assert sa.parse_method("mimo-2ep") == ("mimo", 2)
    assert sa.parse_method("mimo-mpnet") == ("mimo-mpnet", 1)
    assert sa.parse_method("lakda-sharp") == ("lakda-sharp", 1)
    assert sa.label("xlco-2ep") == "XLCO-only, 2 epochs"


def test_every_objective_of_a_student_gets_the_same_steps(sa, setup):
    root, recipe = setup
    work = root / "plan"
    mimo = sa.plan_cell(recipe, "ep", "mimo", 0, work)
    kd = sa.plan_cell(recipe, "ep", "kd", 0, work)
    xlco = sa.plan_cell(recipe, "ep", "xlco", 0, work)
    total = sum(sa.config_steps(c) for c in mimo)
    assert [c.stage for c in mimo] == ["1", "2"] and mimo[0].out == kd[0].out  # Stage 1 shared
    assert mimo[0].stage1_epochs == 1 and mimo[1].stage2_epochs == 1
    assert len(xlco) == 1 and xlco[0].stage == "2" and sa.config_steps(xlco[0]) == total
    assert sum(sa.config_steps(c) for c in kd) == total
    two = sa.plan_cell(recipe, "ep", "mimo-2ep", 0, work)
    assert two[0].out != mimo[0].out and sum(sa.config_steps(c) for c in two) in (2 * total, 2 * total + 1)
    steps = sa.plan_cell(recipe, "steps", "mimo", 1, work)
    assert [c.steps1 if c.stage == "1" else c.steps2 for c in steps] == [1, 2]
    assert sa.config_steps(sa.plan_cell(recipe, "steps", "xlco", 1, work)[0]) == 3
    assert [(s, m, seed) for s, m, seed in sa.cells(recipe)][-1] == ("steps", "kd", 1)
    assert ("ep", "mimo-2ep", 0) in sa.cells(recipe)


def test_methods_and_seeds_asked_for_limit_the_extras(sa, setup):
    _, recipe = setup
    recipe = dict(recipe, students={"ep": dict(recipe["students"]["ep"], extra={"mimo-2ep": [0, 1], "kd-2ep": [1]})})
    everything = sa.cells(recipe)
    assert everything[-3:] == [("ep", "mimo-2ep", 0), ("ep", "mimo-2ep", 1), ("ep", "kd-2ep", 1)]
    two = sa.cells(dict(recipe, methods=["mimo-2ep", "kd-2ep"], only_methods=["mimo-2ep", "kd-2ep"]))
    assert [c for c in two if c[0] == "ep"] == [("ep", "mimo-2ep", 0), ("ep", "mimo-2ep", 1), ("ep", "kd-2ep", 1)]
    one = sa.cells(dict(recipe, methods=["kd-2ep"], only_methods=["kd-2ep"], seeds=[0], only_seeds=[0]))
    assert [c for c in one if c[0] == "ep"] == []  # kd-2ep is an extra with seed 1 only
    plain = sa.cells(dict(recipe, methods=["kd"], only_methods=["kd"]))
    assert [c for c in plain if c[0] == "ep"] == [("ep", "kd", 0), ("ep", "kd", 1)]  # no extras


def test_en_hard_models_follow_the_seed_and_the_students_asked_for(sa, setup):
    root, recipe = setup
    work = root / "plan"
    models = sa.en_hard_models(recipe, work, seed=1)
    assert [(s, m) for s, m, _ in models] == [("teacher-minilm", "teacher"), ("ep", "untrained"), ("ep", "mimo"),
                                              ("steps", "untrained"), ("steps", "mimo")]
    assert models[2][2][-1].out == str(work / "ep" / "seed1" / "mimo") and models[2][2][-1].seed == 1
    only = sa.en_hard_models(dict(recipe, run_students=["steps"]), work)
    assert [(s, m) for s, m, _ in only][1:] == [("steps", "untrained"), ("steps", "mimo")]
    assert only[-1][2][-1].out == str(work / "steps" / "seed0" / "mimo")


def test_runner_trains_scores_imports_and_summarizes(sa, setup, tmp_path):
    root, recipe = setup
    recipe = dict(recipe, seeds=[0, 1], students={"steps": recipe["students"]["steps"] | {"budget": 2}})
    # a budget-curve store with points to import as a third student
    bc = sys.modules["budget_curve"]
    curve = bc.Store(tmp_path / "curve")
    qids = sorted(json.loads(line)["_id"] for line in (BENCH / "queries.jsonl").read_text().splitlines())
    for method, base in (("mimo-minilm", 0.5), ("xlco", 0.4)):
        for seed in (0, 1):
            key = bc.point_key(method, 7, seed, "tiny")
            curve.add({"key": key, "method": method, "budget": 7, "seed": seed, "bench": "tiny",
                       "ndcg@10": base, "time": "t"}, qids, [base] * len(qids), {q: q for q in qids})
    recipe["budget_curve"] = str(tmp_path / "curve")
    recipe["students"]["big"] = {"student": "x", "budget": 7, "from_budget_curve": {"mimo": "mimo-minilm",
                                                                                     "xlco": "xlco"}}
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    args = ["--config", str(cfg), "--work", str(tmp_path / "work"), "--out", str(out), "--device", "cpu",
            "--resamples", "200"]
    assert sa.main(args) == 0
    s = json.loads((out / "summary.json").read_text())
    got = {(p["student"], p["method"], p["seed"]) for p in s["points"]}
    assert got == {("steps", m, seed) for m in ("mimo", "xlco", "kd") for seed in (0, 1)} | {
        ("big", m, seed) for m in ("mimo", "xlco") for seed in (0, 1)}
    assert all(0 <= p["ndcg10"] <= 1 for p in s["points"])
    imported = {(p["method"], p["seed"]): p["ndcg10"] for p in s["points"] if p["student"] == "big"}
    assert imported == {("mimo", 0): 0.5, ("mimo", 1): 0.5, ("xlco", 0): 0.4, ("xlco", 1): 0.4}
    assert s["comparisons"] == []  # comparisons are on mlir-test / mlir-qa-test only, not the tiny bench
    assert (out / "summary.md").is_file() and (out / "commands.txt").is_file()
    before = (out / "points.json").read_text()
    assert sa.main(args) == 0  # everything done: nothing retrained, nothing changed
    assert json.loads((out / "points.json").read_text())["points"] == json.loads(before)["points"]


def test_comparisons_on_test_benches(sa):
    rep = _load("student_axis_report")

    class S(sa.Store):
        pass

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        store = S(Path(d))
        qids = [f"q{i}" for i in range(40)]
        for method, base in (("mimo", 0.5), ("xlco", 0.4), ("kd", 0.45)):
            for seed in (0, 1, 2):
                key = sa.point_key("st", method, seed, "mlir-test")
                scores = [base + 0.01 * seed + (0.05 if i % 2 else -0.05) for i in range(40)]
                store.add({"key": key, "student": "st", "method": method, "seed": seed, "bench": "mlir-test",
                           "ndcg10": sum(scores) / 40}, qids, scores, {q: q for q in qids})
        cells = rep._cells(store.data["points"])
        comps = rep.comparisons(store, cells, 500)
        by = {(c["a"], c["b"]): c for c in comps}
        assert set(by) == {("mimo", "xlco"), ("mimo", "kd")}
        assert by[("mimo", "kd")]["vs"] == "best baseline" and by[("mimo", "xlco")]["vs"] == "baseline"
        assert by[("mimo", "xlco")]["diff"] == pytest.approx(0.10, abs=1e-6)
        lo, hi = by[("mimo", "kd")]["ci"]
        assert lo <= 0.05 <= hi and lo > 0


def test_en_hard_keeps_english_answers_and_drops_unjudged_answers(tmp_path):
    from datasets import Dataset

    from mimo.data.en_hard import build_en_hard
    from mimo.evaluate import load_benchmark

    qa = tmp_path / "mlir-qa-test"
    (qa / "qrels").mkdir(parents=True)
    corpus = [{"_id": "a-en", "text": "Press Ctrl+P to print the document. Then pick a printer.", "lang": "en"},
              {"_id": "a-de", "text": "Drücken Sie Strg+P.", "lang": "de"},
              {"_id": "b-en", "text": "Open the Format menu and choose Page Style.", "lang": "en"}]
    queries = [{"_id": "qa-en", "text": "how do I print", "lang": "en", "group": "qa", "kind": "question"},
               {"_id": "qa-de", "text": "wie drucke ich", "lang": "de", "group": "qa"},
               {"_id": "qb-en", "text": "change the page style", "lang": "en", "group": "qb"}]
    (qa / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (qa / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (qa / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nqa-en\ta-en\t1\nqa-en\ta-de\t1\n"
                                           "qa-de\ta-de\t1\nqb-en\tb-en\t1\n")
    other = tmp_path / "mlir-test"
    other.mkdir()
    (other / "corpus.jsonl").write_text(json.dumps({"_id": "x-en", "text": "Insert a table into a slide.",
                                                    "lang": "en"}) + "\n" + json.dumps(
        {"_id": "x-fr", "text": "Insérer un tableau.", "lang": "fr"}) + "\n")
    Dataset.from_dict({"english": ["Press Ctrl+P to print the document.", "Save the file as PDF.",
                                   "Save the file as PDF.", "ok"],
                       "translation": ["a", "b", "c", "d"], "lang": ["de"] * 4}).save_to_disk(str(tmp_path / "parallel"))
    stats = build_en_hard(tmp_path, min_chars=5)
    b = load_benchmark(tmp_path / "en-hard")
    assert set(b.queries) == {"qa-en", "qb-en"} and b.qrels == {"qa-en": {"a-en": 1}, "qb-en": {"b-en": 1}}
    texts = sorted(d["text"] for d in b.corpus.values())
    assert "Save the file as PDF." in texts and "Insert a table into a slide." in texts
    assert "Press Ctrl+P to print the document." not in texts  # a verbatim part of an answer
    assert all(d["lang"] == "en" for d in b.corpus.values()) and len(b.corpus) == 4
    assert stats["dropped"] == {"duplicate": 1, "part of an answer": 1, "short": 1}
    assert b.queries["qa-en"]["kind"] == "question"


def test_merge_copies_points_and_scores_once(sa, tmp_path):
    qids = ["a", "b", "c"]
    side, main = sa.Store(tmp_path / "side"), sa.Store(tmp_path / "main")
    key = sa.point_key("static", "untrained", 0, "en-hard")
    side.add({"key": key, "student": "static", "method": "untrained", "seed": 0, "bench": "en-hard", "ndcg10": 0.2},
             qids, [0.1, 0.2, 0.3], {q: q for q in qids})
    side.data["en_hard"] = {"queries": 3}
    side.save()
    assert sa.merge(main, tmp_path / "side") == 1 and sa.merge(main, tmp_path / "side") == 0
    again = sa.Store(tmp_path / "main")
    assert again.per_query(key) == pytest.approx({"a": 0.1, "b": 0.2, "c": 0.3})
    assert again.data["en_hard"] == {"queries": 3}
