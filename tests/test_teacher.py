"""The teacher-embedding cache: compute once, survive interruption, share, fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from mimo.errors import MimoError
from mimo.teacher import TeacherCache, cache_stats, clear_cache


class FakeTeacher:
    """Deterministic 'embeddings' derived from the text, counting how many texts it encoded."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        rows = [[len(t), t.count("a"), 1.0, ord(t[0]) / 100] for t in texts]
        return np.asarray(rows, dtype=np.float32)


def test_get_or_compute_computes_each_text_once_and_persists(tmp_path):
    fake = FakeTeacher()
    cache = TeacherCache("fake", fake, root=tmp_path, dtype="float32", shard_rows=2)
    texts = ["alpha", "beta", "gamma", "alpha", "delta"]
    seen = []
    got = cache.get_or_compute(texts, progress=lambda d, t: seen.append((d, t)), batch_size=2)
    assert fake.calls == 4 and seen[-1] == (4, 4)
    np.testing.assert_array_equal(got, fake(texts))
    again = TeacherCache("fake", None, root=tmp_path, dtype="float32", read_only=True)
    np.testing.assert_array_equal(again.get_or_compute(texts[::-1]), got[::-1])
    assert len(again) == 4


def test_misses_are_encoded_in_length_order_and_returned_in_input_order(tmp_path):
    batches = []

    def fake(texts):
        batches.append([len(t) for t in texts])
        return FakeTeacher()(texts)

    cache = TeacherCache("fake", fake, root=tmp_path, dtype="float32")
    texts = ["a" * n for n in (7, 2, 5, 1, 6, 3)]
    got = cache.get_or_compute(texts, batch_size=2)
    assert batches == [[1, 2], [3, 5], [6, 7]]
    np.testing.assert_array_equal(got, FakeTeacher()(texts))


def test_float16_storage_round_trips_within_precision(tmp_path):
    cache = TeacherCache("fake", FakeTeacher(), root=tmp_path)
    got = cache.get_or_compute(["banana"])
    np.testing.assert_allclose(got, FakeTeacher()(["banana"]), rtol=1e-3)
    assert got.dtype == np.float32


def test_key_includes_teacher_prompt_and_normalisation(tmp_path):
    a = TeacherCache("fake", FakeTeacher(), root=tmp_path)
    a.get_or_compute(["x"])
    for other in (
        TeacherCache("fake", None, root=tmp_path, prompt="query: "),
        TeacherCache("fake", None, root=tmp_path, normalize=False),
        TeacherCache("other", None, root=tmp_path),
    ):
        assert "x" not in other and other.namespace != a.namespace


def test_missing_entry_in_read_only_mode_is_a_clear_error(tmp_path):
    cache = TeacherCache("fake", FakeTeacher(), root=tmp_path, read_only=True)
    with pytest.raises(MimoError, match="lacks 1 of 1 texts.*teacher-cache build"):
        cache.get_or_compute(["never seen"])


def test_partial_or_corrupt_shard_is_never_read(tmp_path):
    cache = TeacherCache("fake", FakeTeacher(), root=tmp_path, shard_rows=1)
    cache.get_or_compute(["one", "two"], batch_size=1)
    done = sorted(cache.dir.glob("*.done"))
    done[0].unlink()  # as if the writer died before committing
    keys = cache.dir / (done[1].stem + ".keys")
    keys.write_bytes(keys.read_bytes()[:10])  # a torn keys file under a marker
    fresh = TeacherCache("fake", None, root=tmp_path)
    assert len(fresh) == 0
    fake = FakeTeacher()
    recomputed = TeacherCache("fake", fake, root=tmp_path).get_or_compute(["one", "two"])
    assert fake.calls == 2 and recomputed.shape == (2, 4)


def test_two_writers_share_one_namespace(tmp_path):
    a = TeacherCache("fake", FakeTeacher(), root=tmp_path)
    b = TeacherCache("fake", FakeTeacher(), root=tmp_path)
    a.get_or_compute(["from a"])
    b.get_or_compute(["from b"])
    a.refresh()
    assert "from b" in a and "from a" in b


def test_stats_clear_and_cli(tmp_path):
    TeacherCache("fake", FakeTeacher(), root=tmp_path).get_or_compute(["a", "b", "c"])
    TeacherCache("other", FakeTeacher(), root=tmp_path).get_or_compute(["a"])
    stats = {s.teacher_id: s for s in cache_stats(tmp_path)}
    assert stats["fake"].rows == 3 and stats["fake"].dim == 4 and stats["other"].rows == 1

    from mimo.cli import app

    res = CliRunner().invoke(app, ["teacher-cache", "stats", "--root", str(tmp_path)])
    assert res.exit_code == 0 and "fake" in res.output
    args = ["teacher-cache", "clear", "--root", str(tmp_path), "--teacher", "fake", "-y"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert [s.teacher_id for s in cache_stats(tmp_path)] == ["other"]
    assert clear_cache(tmp_path) == 1 and cache_stats(tmp_path) == []


def test_cli_build_from_text_file_with_a_local_teacher(tmp_path):
    from mimo.cli import app
    from mimo.train.tiny import build_tiny_student, tiny_texts

    teacher = build_tiny_student(tmp_path / "t", tiny_texts())
    texts = tmp_path / "texts.txt"
    texts.write_text("red house\nblue tree\n\nred house\n")
    res = CliRunner().invoke(app, ["teacher-cache", "build", "--teacher", str(teacher), "--texts", str(texts),
                                   "--root", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    (s,) = cache_stats(tmp_path / "c")
    assert s.rows == 2 and s.dim == 32
