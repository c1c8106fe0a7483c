"""Model confidence set, SPA / Reality Check / StepM, deflated Sharpe ratio and PBO on known cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gan_trader.evaluation.comparison import model_confidence_set, superiority_test
from gan_trader.evaluation.overfitting import (
    MIN_EPISODES,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probability_of_backtest_overfitting,
    selection_report,
    sharpe,
)


def losses_with_a_best_model(n: int = 700, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = np.abs(rng.standard_t(4, size=n)) * 0.01
    return pd.DataFrame(
        {
            "persistence": common + np.abs(rng.normal(0, 0.001, n)),
            "best": common * 0.85 + np.abs(rng.normal(0, 0.001, n)),
            "noisy": common + np.abs(rng.normal(0, 0.002, n)),
            "worse": common * 1.1,
        }
    )


def test_mcs_keeps_only_the_clearly_best_model() -> None:
    result = model_confidence_set(losses_with_a_best_model())
    assert result.included == ("best",)
    assert result.pvalues["best"] == 1.0 and (result.pvalues.drop("best") < result.size).all()


def test_mcs_keeps_models_it_cannot_tell_apart() -> None:
    rng = np.random.default_rng(3)
    common = np.abs(rng.normal(size=500))
    twins = pd.DataFrame({"a": common + rng.normal(0, 0.05, 500), "b": common + rng.normal(0, 0.05, 500)})
    assert set(model_confidence_set(twins).included) == {"a", "b"}


def test_spa_finds_a_better_model_and_stepm_names_it() -> None:
    result = superiority_test(losses_with_a_best_model(), "persistence")
    assert result.spa_pvalue < 0.01 and result.reality_check_pvalue < 0.01
    assert result.better == ("best",)


def test_spa_does_not_find_one_where_none_is_better() -> None:
    result = superiority_test(losses_with_a_best_model().drop(columns="best"), "persistence")
    assert result.spa_pvalue > 0.1 and result.better == ()
    with pytest.raises(ValueError, match="benchmark 'nope'"):
        superiority_test(losses_with_a_best_model(), "nope")


def test_deflated_sharpe_ratio_reproduces_the_papers_example() -> None:
    """Bailey & López de Prado (2014), numerical example: 100 trials, variance of the annualised Sharpe
    ratios 1/2, selected annualised SR 2.5, 1250 daily returns, skewness -3, kurtosis 10 (250 days a
    year): SR0 = 0.1132 per day and DSR = 0.9004."""
    daily_variance = 0.5 / 250
    assert expected_max_sharpe(100, daily_variance) == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, 100, daily_variance, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_more_trials_deflate_more() -> None:
    values = [deflated_sharpe_ratio(0.1, 1000, n, 0.002) for n in (2, 10, 100, 1000)]
    assert values == sorted(values, reverse=True)


def brute_force_pbo(returns: np.ndarray, blocks: int) -> float:
    """CSCV written out directly from the paper: every half of the blocks in sample once."""
    days, n = returns.shape
    edges = np.linspace(0, days, blocks + 1).astype(int)
    parts = [np.arange(edges[i], edges[i + 1]) for i in range(blocks)]
    logits = []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        inside = np.concatenate([parts[i] for i in chosen])
        outside = np.concatenate([parts[i] for i in range(blocks) if i not in chosen])
        best = np.argmax([sharpe(returns[inside, j]) for j in range(n)])
        rank = stats.rankdata([sharpe(returns[outside, j]) for j in range(n)])[best] / (n + 1)
        logits.append(math.log(rank / (1 - rank)))
    return float(np.mean(np.asarray(logits) <= 0))


def test_pbo_matches_the_direct_cscv() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0, 0.01, (203, 7))
    returns[:, 2] += 0.0005
    assert probability_of_backtest_overfitting(returns, 8) == brute_force_pbo(returns, 8)


def test_pbo_is_high_for_noise_and_low_with_one_real_edge() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(500, 20))
    assert probability_of_backtest_overfitting(noise) >= 0.5
    skilled = noise.copy()
    skilled[:, 3] += 0.002
    assert probability_of_backtest_overfitting(skilled) < 0.2


def test_selection_report_says_na_below_ten_episodes() -> None:
    rng = np.random.default_rng(2)
    few = selection_report(rng.normal(size=(300, MIN_EPISODES - 1)), 0)
    assert few.deflated_sharpe is None and few.pbo is None
    assert "n/a (too few episodes)" in few.describe()
    enough = selection_report(rng.normal(size=(300, MIN_EPISODES)), 0)
    assert enough.deflated_sharpe is not None and 0 <= enough.pbo <= 1


def test_mcs_treats_models_with_identical_losses_as_one() -> None:
    losses = losses_with_a_best_model()
    losses["persistence_twin"] = losses["persistence"]
    losses["best_twin"] = losses["best"]
    result = model_confidence_set(losses)
    assert set(result.included) == {"best", "best_twin"}
    assert result.pvalues["persistence_twin"] == result.pvalues["persistence"]
