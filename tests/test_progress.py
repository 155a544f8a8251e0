"""What `mimo demo` shows while it evaluates: one bar over the models with each model's encode bars,
and no library loading noise (transformers / hub tqdm bars, warnings)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from rich.console import Console

BENCH = Path(__file__).resolve().parent / "fixtures" / "bench" / "tiny"


def test_evaluate_models_shows_one_bar_over_models_with_their_encode_bars(tmp_path, monkeypatch):
    import mimo.cli._common as common
    from mimo.evaluate import api, evaluate_models
    from mimo.train.tiny import build_tiny_student, tiny_texts

    monkeypatch.setenv("MIMO_HOME", str(tmp_path / "home"))
    buf = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=buf, force_terminal=True, width=120))
    a = build_tiny_student(tmp_path / "a", tiny_texts())
    b = build_tiny_student(tmp_path / "b", tiny_texts(), seed=1)
    shown = evaluate_models([str(a), str(b)], BENCH, labels=["alpha", "beta"], progress=True, views=["pooled"])
    text = buf.getvalue()
    assert "evaluating 2 models on tiny" in text
    assert "alpha: encode corpus" in text and "beta: encode queries" in text
    assert api._ACTIVE == []  # the display is closed
    quiet = evaluate_models([str(a), str(b)], BENCH, labels=["alpha", "beta"], progress=False, views=["pooled"])
    assert [r["views"]["pooled"]["overall"] for r in shown["results"]] == [
        r["views"]["pooled"]["overall"] for r in quiet["results"]]


def test_nested_progress_blocks_share_one_display_and_drop_their_bars():
    from mimo.evaluate.api import _ACTIVE, progress_bars

    with progress_bars(True) as outer:
        outer("models", 2)
        (p,) = _ACTIVE
        with progress_bars(True) as inner:
            inner("encode", 10)(10)
            assert _ACTIVE == [p] and len(p.tasks) == 2
        assert len(p.tasks) == 1


def _load_noise(tmp_path: Path, quiet: bool) -> str:
    from mimo.train.tiny import build_tiny_student, tiny_texts

    model = build_tiny_student(tmp_path / f"m{quiet}", tiny_texts())
    code = (
        ("from mimo.cli._common import quiet_libraries; quiet_libraries()\n" if quiet else "")
        + f"from sentence_transformers import SentenceTransformer\nSentenceTransformer({str(model)!r})\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("MIMO_VERBOSE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stderr


def test_quiet_libraries_keeps_model_loading_bars_off_the_screen(tmp_path):
    assert "Loading weights" in _load_noise(tmp_path, quiet=False)  # what users saw
    assert _load_noise(tmp_path, quiet=True).strip() == ""
