"""Probabilistic scores against closed forms and independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from gan_trader.models import scoring


def crps_by_integral(actual: float, cdf) -> float:
    """CRPS(F, y) = integral of (F(x) - 1{y <= x})^2 dx, numerically."""
    below, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, actual)
    above, _ = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, actual, np.inf)
    return below + above


@pytest.mark.parametrize("actual, mean, sd", [(0.0, 0.0, 1.0), (0.3, -0.1, 0.5), (-2.0, 0.5, 2.0)])
def test_gaussian_crps_matches_its_integral(actual, mean, sd) -> None:
    closed = scoring.crps_gaussian(np.array([actual]), mean, np.array([sd]))[0]
    assert closed == pytest.approx(crps_by_integral(actual, stats.norm(mean, sd).cdf), rel=1e-6)


def test_fair_crps_is_the_unbiased_pair_formula() -> None:
    """E|X - y| - sum_{i != j} |x_i - x_j| / (2 K (K - 1)), computed from all pairs."""
    rng = np.random.default_rng(0)
    actual, samples = rng.normal(size=20), rng.normal(size=(20, 7))
    pairs = np.abs(samples[:, :, None] - samples[:, None, :]).sum(axis=(1, 2)) / (2 * 7 * 6)
    expected = np.abs(samples - actual[:, None]).mean(axis=1) - pairs
    np.testing.assert_allclose(scoring.crps_fair(actual, samples), expected, rtol=1e-10)


def test_fair_crps_of_draws_estimates_the_gaussian_crps_without_bias_at_small_k() -> None:
    """Averaged over many days, the fair CRPS of K = 5 draws from the true N(0, 1) equals the closed form;
    the biased (V-statistic) form would be larger by E|X - X'| / (2K)."""
    rng = np.random.default_rng(1)
    actual = rng.normal(size=20000)
    samples = rng.normal(size=(20000, 5))
    exact = scoring.crps_gaussian(actual, 0.0, np.ones(20000)).mean()
    assert scoring.crps_fair(actual, samples).mean() == pytest.approx(exact, rel=0.01)
    assert scoring.crps_ensemble(actual, samples) > exact * 1.05  # the biased form, for contrast


def test_pinball_loss_values() -> None:
    actual = np.array([1.0, 1.0, -1.0])
    quantile = np.array([0.0, 2.0, -1.0])
    np.testing.assert_allclose(scoring.pinball_loss(actual, quantile, 0.9), [0.9, 0.1, 0.0])
    # The mean pinball loss is minimised by the true quantile of the distribution.
    rng = np.random.default_rng(2)
    draws = rng.normal(size=50000)
    candidates = np.linspace(-2, 2, 81)
    losses = [scoring.pinball_loss(draws, np.full_like(draws, c), 0.95).mean() for c in candidates]
    assert candidates[int(np.argmin(losses))] == pytest.approx(stats.norm.ppf(0.95), abs=0.05)


def test_interval_score_is_width_plus_penalised_miss() -> None:
    actual = np.array([0.0, 3.0, -2.0])
    lower, upper = np.full(3, -1.0), np.full(3, 1.0)
    # alpha = 0.1: misses cost 2 / 0.1 = 20 per unit outside.
    np.testing.assert_allclose(scoring.interval_score(actual, lower, upper, 0.9), [2.0, 42.0, 22.0])


def test_coverage_of_a_known_distribution() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    sd = rng.uniform(0.5, 2.0, size=n)
    actual = rng.normal(0.0, sd)
    right = rng.normal(0.0, sd[:, None], size=(n, 400))
    metrics = scoring.distribution_metrics(actual, right)
    for level in scoring.INTERVAL_LEVELS:
        tolerance = 3 * np.sqrt(level * (1 - level) / n) + 0.01  # binomial noise + quantile error
        assert metrics[f"coverage_{round(level * 100)}"] == pytest.approx(level, abs=tolerance)
    narrow = scoring.distribution_metrics(actual, right * 0.5)
    assert narrow["coverage_90"] < 0.7


def test_coverage_is_unbiased_with_few_samples() -> None:
    """With K = 20 draws the 5 % and 95 % sample quantiles lie inside the true ones, so counting outcomes
    between them under-covers; coverage read from the PIT does not."""
    rng = np.random.default_rng(8)
    n = 20000
    actual = rng.normal(size=n)
    samples = rng.normal(size=(n, 20))
    lower, upper = scoring.central_interval(samples, 0.9)
    between = scoring.interval_coverage(actual, lower, upper)
    from_pit = scoring.pit_coverage(scoring.pit_values(actual, samples), 0.9)
    assert between < 0.87
    assert from_pit == pytest.approx(0.9, abs=0.01)


def test_pit_of_a_correct_model_is_uniform_and_of_a_wrong_one_is_not() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    sd = rng.uniform(0.5, 2.0, size=n)
    actual = rng.normal(0.0, sd)
    right = rng.normal(0.0, sd[:, None], size=(n, 200))
    pit = scoring.pit_values(actual, right)
    assert pit.min() > 0 and pit.max() < 1
    assert scoring.pit_uniformity_pvalue(pit) > 0.01
    too_narrow = scoring.pit_values(actual, right * 0.3)
    assert scoring.pit_uniformity_pvalue(too_narrow) < 1e-6
    # U-shaped: outcomes pile up beyond the narrow ensemble's ends.
    assert np.mean((too_narrow < 0.1) | (too_narrow > 0.9)) > 0.5


def test_pit_is_uniform_for_discrete_ties() -> None:
    """Ties between the outcome and the samples are broken at random, so a model that is right about a
    discrete outcome still gets a uniform PIT."""
    rng = np.random.default_rng(5)
    actual = rng.integers(0, 3, size=5000).astype(float)
    samples = rng.integers(0, 3, size=(5000, 50)).astype(float)
    assert scoring.pit_uniformity_pvalue(scoring.pit_values(actual, samples)) > 0.01


def test_crps_rel_and_skill_against_the_reference() -> None:
    rng = np.random.default_rng(6)
    actual = rng.normal(size=2000)
    samples = rng.normal(size=(2000, 300))
    reference = scoring.crps_gaussian(actual, 0.0, np.full(2000, 2.0))  # a worse (too wide) yardstick
    metrics = scoring.distribution_metrics(actual, samples, reference)
    assert metrics["crps_rel"] == pytest.approx(metrics["crps"] / reference.mean())
    assert metrics["crps_skill"] == pytest.approx(1 - metrics["crps_rel"])
    assert metrics["crps_rel"] < 1


def test_trailing_sd_uses_returns_up_to_the_origin_only() -> None:
    dates = pd.bdate_range("2020-01-01", periods=200)
    close = pd.Series(np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, 200))), index=dates)
    origins = dates[100:110]
    before = scoring.trailing_sd(close, origins)
    changed = close.copy()
    changed.iloc[110:] *= 3.0  # a jump after the last origin
    np.testing.assert_array_equal(scoring.trailing_sd(changed, origins), before)
    returns = np.log(close / close.shift(1))
    assert before[0] == pytest.approx(returns.iloc[41:101].std())
