"""Paired significance: known answers (exact enumeration vs scipy, constant shifts, grouping)."""

import numpy as np
import pytest
from scipy import stats

from mimo.errors import InputError
from mimo.evaluate import mean_over_seeds, paired_test


def _scores(values):
    return {f"q{i}": float(v) for i, v in enumerate(values)}


def test_exact_sign_flip_p_value_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.random(9), rng.random(9)
    ref = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    )
    got = paired_test(_scores(a), _scores(b))
    assert got["exact"] and got["n_groups"] == 9
    assert got["diff"] == pytest.approx(np.mean(a - b))
    assert got["p_value"] == pytest.approx(ref.pvalue)


def test_constant_shift_gives_the_smallest_exact_p_and_a_point_interval():
    a = [0.2, 0.5, 0.9, 0.4, 0.7]
    got = paired_test(_scores(np.array(a) + 0.1), _scores(a))
    assert got["diff"] == pytest.approx(0.1)
    assert got["p_value"] == pytest.approx(2 / 2**5)  # only the all-plus and all-minus flips are as extreme
    assert got["ci_low"] == pytest.approx(0.1) and got["ci_high"] == pytest.approx(0.1)


def test_identical_systems_are_not_different():
    a = _scores([0.3, 0.6, 0.1, 0.8])
    got = paired_test(a, dict(a))
    assert got["diff"] == 0.0 and got["p_value"] == 1.0
    assert got["ci_low"] == 0.0 and got["ci_high"] == 0.0


def test_groups_flip_together():
    # 4 groups of 3 language versions each: the grouped test equals a query-level test on group means
    rng = np.random.default_rng(7)
    a, b = rng.random(12), rng.random(12)
    groups = {f"q{i}": f"g{i // 3}" for i in range(12)}
    got = paired_test(_scores(a), _scores(b), groups)
    means_a, means_b = a.reshape(4, 3).mean(1), b.reshape(4, 3).mean(1)
    ref = paired_test(_scores(means_a), _scores(means_b))
    assert got["n_groups"] == 4 and got["n_queries"] == 12
    assert got["diff"] == pytest.approx(ref["diff"])
    assert got["p_value"] == pytest.approx(ref["p_value"])
    assert got["p_value"] >= 2 / 16


def test_sampled_test_on_a_clear_difference_is_significant_and_ci_covers_it():
    rng = np.random.default_rng(0)
    b = rng.random(400)
    a = b + 0.05 + rng.normal(0, 0.05, 400)
    got = paired_test(_scores(a), _scores(b), n_resamples=2000)
    assert not got["exact"]
    assert got["p_value"] < 0.001
    assert got["ci_low"] < got["diff"] < got["ci_high"]
    assert got["ci_low"] > 0.03 and got["ci_high"] < 0.07


def test_different_query_sets_are_refused_by_name():
    with pytest.raises(InputError, match="different queries.*'q2'"):
        paired_test(_scores([0.1, 0.2, 0.3]), _scores([0.1, 0.2]))


def test_mean_over_seeds():
    got = mean_over_seeds([_scores([0.2, 0.4]), _scores([0.4, 0.8])])
    assert got == pytest.approx({"q0": 0.3, "q1": 0.6})
    with pytest.raises(InputError, match="seed result 1"):
        mean_over_seeds([_scores([0.2, 0.4]), _scores([0.2])])


def test_format_p():
    from mimo.evaluate.significance import format_p

    assert [format_p(p) for p in (0.0001, 0.0042, 0.337, 1.0)] == ["< 0.001", "0.0042", "0.337", "1.000"]


def test_chunked_resampling_gives_the_same_figures(monkeypatch):
    from mimo.evaluate import significance

    rng = np.random.default_rng(5)
    a, b = _scores(rng.random(300)), _scores(rng.random(300))
    groups = {f"q{i}": f"g{i // 3}" for i in range(300)}
    whole = paired_test(a, b, groups, n_resamples=3000)
    monkeypatch.setattr(significance, "_CHUNK_CELLS", 700)  # 7 resamples of 100 groups per chunk
    assert paired_test(a, b, groups, n_resamples=3000) == whole
