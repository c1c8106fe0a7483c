"""The study's statistics: Holm's correction, the pooled test on correlated targets (against a simulation),
the tables on per-day scores with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.evaluation.stats_tests import dm_test
from gan_trader.evaluation.study import (
    POOLED,
    crps_rel_summary,
    default_comparisons,
    dm_better,
    holm,
    pooled_dm_better,
    study_mcs,
    study_tests,
)


def test_holm_matches_the_step_down_by_hand() -> None:
    p = pd.Series({"a": 0.01, "b": 0.04, "c": 0.03, "d": np.nan})
    adjusted = holm(p)
    # sorted: a 0.01 * 3, c 0.03 * 2, b 0.04 * 1 -> running maximum 0.03, 0.06, 0.06
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)
    assert np.isnan(adjusted["d"])


def correlated_differentials(
    rng: np.random.Generator, targets: int, days: int, correlation: float, shift: float = 0.0
) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per-target (model, benchmark) losses whose differentials share a common day effect (correlation
    across targets), with mean `shift` (negative: the model is better)."""
    dates = pd.bdate_range("2015-01-01", periods=days)
    common = rng.standard_normal(days)
    pairs = {}
    for k in range(targets):
        own = rng.standard_normal(days)
        differential = shift + np.sqrt(correlation) * common + np.sqrt(1 - correlation) * own
        benchmark = 1.0 + 0.1 * rng.random(days)
        pairs[f"T{k}"] = (pd.Series(benchmark + differential, dates), pd.Series(benchmark, dates))
    return pairs


def stacked_pvalue(pairs: dict[str, tuple[pd.Series, pd.Series]]) -> float:
    """The wrong way: every target's days stacked as if they were independent observations."""
    model = np.concatenate([m.to_numpy() for m, _b in pairs.values()])
    benchmark = np.concatenate([b.to_numpy() for _m, b in pairs.values()])
    return dm_test(model, benchmark, alternative="less").pvalue


def test_pooled_test_keeps_its_size_on_correlated_targets_where_stacking_does_not() -> None:
    """Four targets whose daily loss differentials correlate at 0.8 (they trade on the same days), no true
    difference: the pooled test (differentials averaged across targets per day) rejects at about its level;
    stacking the targets' days as independent rejects far too often."""
    rng = np.random.default_rng(3)
    reps = 400
    pooled, stacked = [], []
    for _ in range(reps):
        pairs = correlated_differentials(rng, targets=4, days=250, correlation=0.8)
        pooled.append(pooled_dm_better(pairs).pvalue < 0.05)
        stacked.append(stacked_pvalue(pairs) < 0.05)
    assert 0.02 <= np.mean(pooled) <= 0.085
    assert np.mean(stacked) >= 0.12


def test_pooled_test_finds_a_real_difference_and_says_which_way() -> None:
    rng = np.random.default_rng(4)
    better = correlated_differentials(rng, targets=3, days=400, correlation=0.5, shift=-0.25)
    assert pooled_dm_better(better).pvalue < 0.01
    worse = correlated_differentials(rng, targets=3, days=400, correlation=0.5, shift=+0.25)
    assert pooled_dm_better(worse).pvalue > 0.9


def test_pooled_test_uses_the_days_the_targets_share_and_their_scales() -> None:
    rng = np.random.default_rng(5)
    pairs = correlated_differentials(rng, targets=2, days=300, correlation=0.3, shift=-0.1)
    first_model, first_bench = pairs["T0"]
    pairs["T0"] = (first_model.iloc[50:], first_bench.iloc[50:])  # T0 starts later
    assert pooled_dm_better(pairs).n == 250
    # Scaling one target's losses by 100 and telling the test its scale gives the same answer.
    scaled = dict(pairs)
    scaled["T1"] = (pairs["T1"][0] * 100, pairs["T1"][1] * 100)
    assert pooled_dm_better(scaled, {"T1": 100.0}).pvalue == pytest.approx(pooled_dm_better(pairs).pvalue)


def known_answer_scores(seed: int = 0) -> pd.DataFrame:
    """Per-day scores of a grid with a known answer: on two targets, `signal` lowers the GAN's CRPS by 8 %,
    `noise` changes nothing (its own noise only); garch_t sits between; three seeds, two folds."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2016-01-01", periods=300)
    rows = []
    for target in ("A", "B"):
        base = 0.01 * np.exp(rng.normal(0, 0.3, len(dates)))  # the day's difficulty, shared by every model
        reference = base * 1.02
        for feature_set, factor in (("history", 1.0), ("signal", 0.92), ("noise", 1.0)):
            for model in ("gan", "lstm_skewt"):
                for seed_ in (7, 8, 9):
                    crps = base * factor * np.exp(rng.normal(0, 0.05, len(dates)))
                    rows.append(_frame(target, feature_set, model, seed_, dates, crps, reference))
        for seed_ in (7, 8, 9):
            rows.append(_frame(target, "per_target", "garch_t", seed_, dates, base * 0.97, reference))
    return pd.concat(rows, ignore_index=True)


def _frame(target, feature_set, model, seed, dates, crps, reference) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.DataFrame(
        {
            "target": target,
            "feature_set": feature_set,
            "model": model,
            "seed": seed,
            "fold": np.arange(len(dates)) * 2 // len(dates),
            "date": dates,
            "crps": crps,
            "reference": reference,
            "pit": np.linspace(0.01, 0.99, len(dates)),
        }
    )


def test_tables_on_a_grid_with_a_known_answer() -> None:
    scores = known_answer_scores()
    comparisons = default_comparisons(["gan", "lstm_skewt"], "history", {"garch_t": "per_target"})
    tests = study_tests(scores, comparisons)
    pooled = tests[(tests["scope"] == POOLED) & (tests["model"] == "gan")].set_index(
        ["comparison", "feature_set"]
    )
    assert pooled.loc[("vs history", "signal"), "better"]
    assert not pooled.loc[("vs history", "noise"), "better"]
    assert pooled.loc[("vs history", "signal"), "stat"] < 0
    assert ("vs history", "history") not in pooled.index  # a model is not tested against itself
    assert pooled.loc[("vs garch_t", "signal"), "better"]
    assert not pooled.loc[("vs garch_t", "history"), "better"]
    # Holm over the family's two sets (signal, noise): the smaller p is doubled.
    signal = pooled.loc[("vs history", "signal")]
    assert signal["p_holm"] == pytest.approx(min(1.0, 2 * signal["p"]))
    assert (tests["p_holm"] >= tests["p"] - 1e-15).all()
    # Per target too, one-sided: the signal helps on each target, the noise on neither.
    for target in ("A", "B"):
        own = tests[
            (tests["scope"] == target) & (tests["model"] == "gan") & (tests["comparison"] == "vs history")
        ]
        own = own.set_index("feature_set")
        assert own.loc["signal", "better"] and not own.loc["noise", "better"]
    summary = crps_rel_summary(scores)
    assert (
        summary.loc[(POOLED, "signal", "gan"), "crps_rel"]
        < summary.loc[(POOLED, "history", "gan"), "crps_rel"]
    )
    assert summary.loc[(POOLED, "signal", "gan"), "runs"] == 2 * 3 * 2  # targets x seeds x folds
    assert summary.loc[("A", "signal", "gan"), "seeds"] == 3


def test_seed_average_comes_before_the_test() -> None:
    """Three seeds of a model that differ only by noise around the same per-day loss: the test sees their
    average (one series of days), not 3 x days observations."""
    scores = known_answer_scores()
    comparisons = default_comparisons(["gan"], "history", {})
    tests = study_tests(scores, comparisons)
    assert (tests["days"] == 300).all()


def test_mcs_keeps_the_best_cell_and_drops_a_clearly_worse_one() -> None:
    scores = known_answer_scores()
    mcs = study_mcs(scores, [("per_target", "garch_t")])
    a = mcs[mcs["target"] == "A"].set_index(["feature_set", "model"])
    assert a.loc[("signal", "gan"), "in_mcs"]
    assert not a.loc[("history", "gan"), "in_mcs"]


def test_dm_better_joins_days_and_runs_one_sided() -> None:
    dates = pd.bdate_range("2016-01-01", periods=200)
    rng = np.random.default_rng(0)
    benchmark = pd.Series(1 + rng.random(200), dates)
    model = benchmark.iloc[20:] - 0.05
    result = dm_better(model, benchmark)
    assert result.n == 180 and result.statistic < 0 and result.pvalue < 0.01
    assert dm_better(benchmark, model).pvalue > 0.99
