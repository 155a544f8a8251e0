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


# ---- seed-aware comparisons (several trained seeds per recipe) ----------------------------------

def _recipe(base, shifts, rng, noise=0.0):
    """One per-query score dict per seed: ``base + shift`` (+ per-query noise)."""
    return [_scores(np.clip(base + s + rng.normal(0, noise, len(base)), 0, 1)) for s in shifts]


def test_seed_aware_with_zero_seed_variance_is_the_group_bootstrap():
    from mimo.evaluate import seed_aware_test

    rng = np.random.default_rng(1)
    b = rng.random(300)
    a = b + 0.02 + rng.normal(0, 0.1, 300)
    groups = {f"q{i}": f"g{i // 3}" for i in range(300)}
    got = seed_aware_test([_scores(a)] * 3, [_scores(b)] * 3, groups, n_resamples=20_000)
    ref = paired_test(_scores(a), _scores(b), groups, n_resamples=20_000)
    width = ref["ci_high"] - ref["ci_low"]
    assert got["diff"] == pytest.approx(ref["diff"])
    assert abs(got["ci_low"] - ref["ci_low"]) < 0.05 * width and abs(got["ci_high"] - ref["ci_high"]) < 0.05 * width
    assert got["seed_spread_a"]["sd"] == 0.0 and got["seed_spread_a"]["range"] == 0.0
    assert got["per_seed_diff"] == pytest.approx({"0": ref["diff"], "1": ref["diff"], "2": ref["diff"]})
    # one seed each: exactly the paired test's group bootstrap distribution (same resampled groups)
    one = seed_aware_test([_scores(a)], [_scores(b)], groups, n_resamples=20_000)
    assert abs(one["ci_low"] - ref["ci_low"]) < 0.05 * width and one["p_seed_perm_min"] == 1.0


def test_huge_seed_variance_widens_the_interval_to_the_seed_spread():
    from mimo.evaluate import seed_aware_test

    rng = np.random.default_rng(2)
    base = rng.uniform(0.3, 0.7, 400)
    a = _recipe(base, [-0.2, 0.0, 0.2], rng, noise=0.02)  # seed means 0.2 apart, mean diff ~0
    b = _recipe(base, [0.0, 0.0, 0.0], rng, noise=0.02)
    got = seed_aware_test(a, b, n_resamples=5000)
    q = got["query_only"]
    assert q["ci_high"] - q["ci_low"] < 0.01  # averaged over seeds, queries alone look very precise
    assert got["ci_low"] < -0.1 and got["ci_high"] > 0.1  # seeds counted: the interval spans the seed spread
    assert got["seed_spread_a"]["range"] == pytest.approx(0.4, abs=0.01)
    assert got["seed_spread_a"]["sd"] == pytest.approx(0.2, abs=0.01)


def test_query_only_significant_but_seed_aware_not_the_issue_case():
    """Two seeds: +5.6 and -1.1 points (issue 13). Each seed, and their average, looks significant
    query by query; counting the seed, the interval covers 0."""
    from mimo.evaluate import seed_aware_test

    rng = np.random.default_rng(3)
    base = rng.uniform(0.2, 0.8, 600)
    b = _recipe(base, [0.0, 0.0], rng, noise=0.01)
    a = [_scores(np.array(list(b[0].values())) + 0.056 + rng.normal(0, 0.01, 600)),
         _scores(np.array(list(b[1].values())) - 0.011 + rng.normal(0, 0.01, 600))]
    assert paired_test(a[0], b[0], n_resamples=2000)["p_value"] < 0.001
    avg = paired_test(mean_over_seeds(a), mean_over_seeds(b), n_resamples=2000)
    assert avg["ci_low"] > 0 and avg["p_value"] < 0.001
    got = seed_aware_test(a, b, n_resamples=5000)
    assert got["diff"] == pytest.approx(0.0225, abs=0.002)
    assert got["ci_low"] < 0 < got["ci_high"] and got["p_value"] > 0.05
    assert got["per_seed_diff"]["0"] == pytest.approx(0.056, abs=0.002)
    assert got["per_seed_diff"]["1"] == pytest.approx(-0.011, abs=0.002)
    assert got["p_seed_perm_min"] == pytest.approx(2 / 6)  # 2 + 2 seeds: C(4, 2) = 6 labelings
    assert got["query_only"]["ci_low"] > 0


def test_seed_aware_clear_win_across_seeds_and_permutation_floor():
    from mimo.evaluate import seed_aware_test
    from mimo.evaluate.significance import seed_aware_markdown

    rng = np.random.default_rng(4)
    base = rng.uniform(0.2, 0.8, 300)
    a = _recipe(base, [0.05, 0.06, 0.055, 0.052, 0.058], rng, noise=0.01)
    b = _recipe(base, [0.0, 0.004, -0.003, 0.002, 0.001], rng, noise=0.01)
    got = seed_aware_test(a, b, seeds_a=[0, 1, 2, 3, 4], seeds_b=[0, 1, 2, 3, 4], n_resamples=4000)
    assert got["ci_low"] > 0.04 and got["p_value"] < 0.001
    assert got["p_seed_perm"] == pytest.approx(2 / 252)  # the most extreme of C(10, 5) labelings
    md = seed_aware_markdown([{"a": "A", "b": "B", **got}])
    assert "| A − B | 5/5 |" in md and "+5.4" in md


def test_seed_aware_refuses_mismatched_queries():
    from mimo.evaluate import seed_aware_test

    with pytest.raises(InputError, match="recipe B seed result 1"):
        seed_aware_test([_scores([0.1, 0.2])], [_scores([0.1, 0.2]), _scores([0.1])])


def test_seed_caveat_names_what_a_one_seed_interval_lacks():
    from mimo.evaluate import seed_aware_test
    from mimo.evaluate.significance import seed_aware_markdown, seed_caveat

    rng = np.random.default_rng(5)
    base = rng.uniform(0.2, 0.8, 60)
    a = _recipe(base, [0.02, 0.03, 0.01], rng, noise=0.01)
    b = _recipe(base, [0.0, 0.01, -0.01], rng, noise=0.01)
    assert seed_caveat(seed_aware_test(a[:2], b[:2], n_resamples=200)) == ""
    assert seed_caveat(seed_aware_test(a, b[:1], n_resamples=200)) == "1 seed for b"
    assert seed_caveat(seed_aware_test(a[:1], b, n_resamples=200)) == "1 seed for a"
    one = seed_aware_test(a[:1], b[:1], n_resamples=200)
    assert seed_caveat(one) == "query groups only"
    md = seed_aware_markdown([{"a": "A", "b": "B", **one}])
    assert "] (query groups only) |" in md and "(0.00)" not in md  # no invented seed sd either


def test_intervals_do_not_depend_on_the_order_queries_arrive_in():
    """The same scores in another dict order (another file, another process) give the same figures."""
    from mimo.evaluate import seed_aware_test

    rng = np.random.default_rng(3)
    b = rng.random(90)
    a = np.clip(b + 0.03 + rng.normal(0, 0.1, 90), 0, 1)
    groups = {f"q{i}": f"g{i % 30}" for i in range(90)}
    order = rng.permutation(90)

    def shuffled(d):
        return {f"q{i}": d[f"q{i}"] for i in order}

    sa = [_scores(np.clip(a + d, 0, 1)) for d in (0.0, 0.01, -0.02)]
    sb = [_scores(np.clip(b + d, 0, 1)) for d in (0.0, -0.01)]
    p1 = paired_test(sa[0], sb[0], groups)
    p2 = paired_test(shuffled(sa[0]), shuffled(sb[0]), groups)
    assert (p1["ci_low"], p1["ci_high"], p1["p_value"]) == (p2["ci_low"], p2["ci_high"], p2["p_value"])
    s1 = seed_aware_test(sa, sb, groups)
    s2 = seed_aware_test([shuffled(s) for s in sa], sb, groups)
    assert (s1["ci_low"], s1["ci_high"], s1["p_value"]) == (s2["ci_low"], s2["ci_high"], s2["p_value"])
