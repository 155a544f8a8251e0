"""mimo.export: ONNX matches torch, static export is a loadable (and faster) sentence-transformer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_index import WORDS, build_tiny_model

from mimo.errors import MimoError
from mimo.export import DEFAULT_INT8_RECIPE, EXPORT_FILE, INT8_RECIPES, export_model, is_onnx_export, load_exported

TEXTS = [" ".join(ws[: 3 + i]) for i, ws in enumerate(WORDS.values())] + ["x", "Berlin 東京 Москва"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("exp"))


def _torch(tiny: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny), device="cpu")


def test_onnx_matches_torch_and_indexes(tiny: Path, tmp_path: Path) -> None:
    out = export_model(str(tiny), "onnx", tmp_path / "onnx")
    assert is_onnx_export(out) and (out / "onnx" / "model.onnx").is_file()
    onnx = load_exported(out)
    ref = _torch(tiny)
    for prompt in ("query", "passage"):
        a = ref.encode(TEXTS * 3, prompt_name=prompt, normalize_embeddings=True)
        b = onnx.encode(TEXTS * 3, prompt_name=prompt, batch_size=4)  # padded batches of mixed lengths
        assert (a * b).sum(1).min() > 0.99
    assert onnx.encode("one", prompt_name="query").shape == (32,)
    # an index built with the ONNX encoder finds the same passages as the torch one
    from mimo.index import Doc, build_index

    docs = [Doc(str(i), t) for i, t in enumerate(TEXTS)]
    hits_onnx = build_index(str(out), docs, tmp_path / "ix1").search(TEXTS[:3], k=3)
    hits_torch = build_index(str(tiny), docs, tmp_path / "ix2", encoder=ref).search(TEXTS[:3], k=3)
    assert [[h.id for h in x] for x in hits_onnx] == [[h.id for h in x] for x in hits_torch]
    # `mimo evaluate` takes the export dir like any model and scores it like the torch model
    from mimo.evaluate import evaluate

    bench = Path(__file__).parent / "fixtures" / "bench" / "tiny"
    got = evaluate(str(out), bench, views=("pooled",), use_cache=False)["views"]["pooled"]["overall"]
    want = evaluate(ref, bench, views=("pooled",), use_cache=False)["views"]["pooled"]["overall"]
    assert got["nDCG@10"] == pytest.approx(want["nDCG@10"], abs=0.02)


def test_static_export_loads_and_encodes_without_a_transformer(tiny: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    out = export_model(str(tiny), "static", tmp_path / "static", pca_dims=16)
    assert (out / EXPORT_FILE).is_file() and not is_onnx_export(out)
    static = SentenceTransformer(str(out), device="cpu")  # plain ST loads it; prompts kept
    assert static.prompts["query"] == "query: "
    emb = static.encode(TEXTS, prompt_name="query")
    assert emb.shape == (len(TEXTS), 16)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.linalg.matrix_rank(emb) > 1  # not a constant vector
    # no transformer left: one embedding-bag lookup per token (the speed itself is measured side by
    # side in benchmarks/static_student.py, not timed here, where a loaded box made it flaky)
    assert [type(m).__name__ for m in static] == ["StaticEmbedding", "Normalize"]
    assert not any("attention" in name for name, _ in static.named_modules())


def test_export_errors(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(MimoError, match="unknown export format 'gguf'"):
        export_model(str(tiny), "gguf", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_export(tiny: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from typer.testing import CliRunner

    from mimo.cli import app

    run = CliRunner().invoke
    r = run(app, ["export", str(tiny), "--format", "static", "--out", str(tmp_path / "s"), "--pca-dims", "0"])
    assert r.exit_code == 0, r.output
    assert SentenceTransformer(str(tmp_path / "s"), device="cpu").encode(["fox"]).shape == (1, 32)
    r = run(app, ["export", str(tiny), "--format", "tflite", "--out", str(tmp_path / "t")])
    assert r.exit_code == 1 and "unknown export format 'tflite'" in r.output


@pytest.fixture(scope="module")
def fp32_onnx(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(str(tiny), "onnx", tmp_path_factory.mktemp("fp32") / "onnx")


@pytest.mark.parametrize("recipe", list(INT8_RECIPES))
def test_onnx_int8_recipes_load_and_stay_close_to_fp32(tiny: Path, fp32_onnx: Path, tmp_path: Path,
                                                       recipe: str) -> None:
    out = export_model(str(tiny), "onnx-int8", tmp_path / "int8", recipe=recipe)
    assert is_onnx_export(out)
    meta = json.loads((out / EXPORT_FILE).read_text())
    assert meta["format"] == "onnx-int8" and meta["int8_recipe"] == recipe
    assert meta["quantization"]["per_channel"] == INT8_RECIPES[recipe].per_channel
    int8, fp32 = load_exported(out), load_exported(fp32_onnx)
    a = fp32.encode(TEXTS * 2, prompt_name="query", batch_size=4)
    b = int8.encode(TEXTS * 2, prompt_name="query", batch_size=4)
    assert b.shape == a.shape
    assert (a * b).sum(1).min() >= 0.98
    assert not np.array_equal(a, b)  # the weights really are quantized
    assert (out / "onnx" / "model.onnx").stat().st_size < (fp32_onnx / "onnx" / "model.onnx").stat().st_size


def test_default_int8_recipe_is_matmul_per_channel(tiny: Path, tmp_path: Path) -> None:
    out = export_model(str(tiny), "onnx-int8", tmp_path / "int8")
    assert json.loads((out / EXPORT_FILE).read_text())["int8_recipe"] == DEFAULT_INT8_RECIPE == "matmul-per-channel-7bit"


def test_unknown_int8_recipe_is_a_clear_error(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(MimoError, match="unknown int8 recipe 'int4'; choose one of matmul-per-channel, "):
        export_model(str(tiny), "onnx-int8", tmp_path / "x", recipe="int4")
    assert not (tmp_path / "x").exists()
    from typer.testing import CliRunner

    from mimo.cli import app

    r = CliRunner().invoke(app, ["export", str(tiny), "--format", "onnx-int8", "--int8-recipe", "int4",
                                 "--out", str(tmp_path / "y")])
    assert r.exit_code == 1 and "unknown int8 recipe 'int4'" in r.output and "all-ops" in r.output
    r = CliRunner().invoke(app, ["export", str(tiny), "--format", "onnx", "--int8-recipe", "all-ops",
                                 "--out", str(tmp_path / "z")])
    assert r.exit_code == 1 and "--int8-recipe applies to --format onnx-int8 only" in r.output
    r = CliRunner().invoke(app, ["export", str(tiny), "--format", "onnx-int8", "--int8-recipe", "matmul-per-tensor",
                                 "--out", str(tmp_path / "ok")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ok" / EXPORT_FILE).read_text())["int8_recipe"] == "matmul-per-tensor"


def test_onnx_fingerprint_tells_exports_apart(tiny: Path, fp32_onnx: Path, tmp_path: Path) -> None:
    import shutil

    from mimo.evaluate.encode import model_fingerprint

    fps = {"fp32": model_fingerprint(load_exported(fp32_onnx))}
    for recipe in ("matmul-per-channel", "matmul-per-tensor"):
        fps[recipe] = model_fingerprint(load_exported(export_model(str(tiny), "onnx-int8", tmp_path / recipe,
                                                                   recipe=recipe)))
    assert len(set(fps.values())) == 3 and all(fp.startswith("onnx-") for fp in fps.values())
    # same path, another export: another fingerprint; a copy elsewhere: the same one
    same = tmp_path / "same"
    shutil.copytree(tmp_path / "matmul-per-channel", same)
    assert model_fingerprint(load_exported(same)) == fps["matmul-per-channel"]
    shutil.rmtree(same)
    shutil.copytree(tmp_path / "matmul-per-tensor", same)
    assert model_fingerprint(load_exported(same)) == fps["matmul-per-tensor"]


def test_encoder_without_identity_is_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mimo.evaluate import encode as enc_mod

    class Anon:  # no fingerprint, no weights, no name: its repr holds only a memory address
        def encode(self, texts, **_):
            return np.ones((len(texts), 2), np.float32)

    monkeypatch.setattr(enc_mod, "cache_root", lambda: tmp_path / "cache")
    assert enc_mod.model_fingerprint(Anon()) is None
    _, stats = enc_mod.encode_texts(Anon(), ["a", "b"])
    _, again = enc_mod.encode_texts(Anon(), ["a", "b"])
    assert stats.n_encoded == again.n_encoded == 2 and not (tmp_path / "cache").exists()


def test_teacher_space_export_is_the_projection_of_the_student(tiny: Path, tmp_path: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import save_model
    from sentence_transformers import SentenceTransformer

    run = tmp_path / "run"
    shutil.copytree(tiny, run)
    torch.manual_seed(0)
    proj = torch.nn.Linear(32, 48)
    save_model(proj, str(run / "projection.safetensors"))
    out = export_model(str(run), "teacher-space", tmp_path / "ts")
    got = SentenceTransformer(str(out), device="cpu").encode(TEXTS, prompt_name="query")
    s = torch.as_tensor(_torch(tiny).encode(TEXTS, prompt_name="query"))
    with torch.no_grad():
        want = torch.nn.functional.normalize(proj(s), dim=-1).numpy()
    assert got.shape == (len(TEXTS), 48)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(MimoError, match="no projection"):
        export_model(str(tiny), "teacher-space", tmp_path / "none")
