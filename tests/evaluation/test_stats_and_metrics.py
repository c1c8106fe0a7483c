"""MASE / MAPE, Pesaran-Timmermann and Diebold-Mariano on constructed cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.evaluation.stats_tests import diebold_mariano, dm_test, giacomini_white, pesaran_timmermann
from gan_trader.models.baselines import run_baselines
from gan_trader.models.scoring import hyndman_mase, mape, relmae


def test_persistence_has_relmae_one_by_construction(small_task):
    (persistence,) = run_baselines(["persistence"], small_task, seed=0)
    close = small_task.close
    actual = close.loc[persistence.target_dates].to_numpy()
    anchor = close.loc[persistence.origins].to_numpy()
    assert relmae(actual, persistence.price, anchor) == pytest.approx(1.0)
    board = evaluate(small_task, [persistence], small_task_config())
    assert board.table.loc["persistence", "relmae"] == pytest.approx(1.0)
    assert board.table.loc["persistence", "price_relmae"] == pytest.approx(1.0)


def small_task_config():
    from gan_trader.config import EvaluationConfig

    return EvaluationConfig()


def test_hyndman_mase_scales_by_the_training_span(small_task):
    # In-sample series 1, 3, 2, 6: naive one-step errors 2, 1, 4 -> scale 7 / 3; forecast MAE 0.5.
    assert hyndman_mase(np.array([5.0, 6.0]), np.array([5.5, 5.5]), np.array([1.0, 3.0, 2.0, 6.0])) == (
        pytest.approx(0.5 / (7 / 3))
    )
    (persistence,) = run_baselines(["persistence"], small_task, seed=0)
    close = small_task.close
    training = close[close.index <= small_task.split.train_end].to_numpy()
    actual = close.loc[persistence.target_dates].to_numpy()
    expected = np.mean(np.abs(persistence.price - actual)) / np.mean(np.abs(np.diff(training)))
    board = evaluate(small_task, [persistence], small_task_config())
    # Persistence is no longer 1 by construction: the scale is the training span's, not the test days'.
    assert board.table.loc["persistence", "mase"] == pytest.approx(expected)
    assert board.table.loc["persistence", "mase"] != pytest.approx(1.0)


def test_relmae_and_mape_by_hand():
    actual = np.array([10.0, 11.0, 12.0, 10.0])
    predicted = np.array([10.5, 11.0, 11.0, 10.0])
    naive = np.array([9.0, 10.0, 11.0, 12.0])
    # MAE: (0.5 + 0 + 1 + 0) / 4 = 0.375; naive MAE: (1 + 1 + 1 + 2) / 4 = 1.25.
    assert relmae(actual, predicted, naive) == pytest.approx(0.375 / 1.25)
    assert mape(actual, predicted) == pytest.approx(100 * (0.05 + 0 + 1 / 12 + 0) / 4)
    assert math.isnan(mape(np.array([0.0, 1.0]), np.array([1.0, 1.0])))


def test_pesaran_timmermann_by_hand():
    actual = np.array([1, 1, 1, -1, -1, -1, 1, -1, 1, -1], float)
    predicted = np.array([1, 1, -1, -1, -1, 1, 1, -1, 1, -1], float)
    n = 10
    p_hat = 8 / 10
    py, px = 5 / 10, 5 / 10
    p_star = py * px + (1 - py) * (1 - px)  # 0.5
    var_hat = p_star * (1 - p_star) / n
    var_star = 4 * py * px * (1 - py) * (1 - px) / n**2  # the other two terms vanish at 0.5
    expected = (p_hat - p_star) / math.sqrt(var_hat - var_star)
    result = pesaran_timmermann(actual, predicted)
    assert result.statistic == pytest.approx(expected)
    assert result.pvalue == pytest.approx(stats.norm.sf(expected))


def test_pesaran_timmermann_matches_the_independence_chi_square_asymptotically():
    """PT^2 and the 2x2 chi-square statistic of independence (no continuity correction) agree for large n."""
    rng = np.random.default_rng(0)
    actual = rng.normal(size=5000)
    predicted = 0.15 * actual + rng.normal(size=5000)
    result = pesaran_timmermann(actual, predicted)
    table = np.array(
        [
            [np.sum((actual > 0) & (predicted > 0)), np.sum((actual > 0) & (predicted <= 0))],
            [np.sum((actual <= 0) & (predicted > 0)), np.sum((actual <= 0) & (predicted <= 0))],
        ]
    )
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert result.statistic > 3
    assert result.statistic**2 == pytest.approx(chi2, rel=0.02)


def test_pesaran_timmermann_without_skill_is_not_significant():
    rng = np.random.default_rng(1)
    result = pesaran_timmermann(rng.normal(size=2000), rng.normal(size=2000))
    assert result.pvalue > 0.05
    constant = pesaran_timmermann(rng.normal(size=50), np.ones(50))
    assert math.isnan(constant.statistic)


def test_diebold_mariano_horizon_one_is_the_t_test_of_the_loss_differential():
    rng = np.random.default_rng(2)
    actual = rng.normal(size=200)
    good = actual + rng.normal(scale=0.8, size=200)
    bad = actual + rng.normal(scale=1.0, size=200)
    result = diebold_mariano(actual, good, bad, loss="squared")
    differential = (good - actual) ** 2 - (bad - actual) ** 2
    reference = stats.ttest_1samp(differential, 0.0)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.pvalue == pytest.approx(reference.pvalue)
    assert result.statistic < 0  # the first forecast is the better one


@pytest.mark.parametrize(
    ("forecast", "weight"),
    [
        ([1.0, 0.5, 2.0, 1.5, 0.0, 0.5, 1.0, 1.5], 1.0),  # positive lag-1 autocovariance: uniform kernel
        ([1.0, -2.0, 1.0, 0.5, -1.0, 2.0, 0.0, 1.0], 0.5),  # uniform estimate negative: Bartlett weight 1/2
    ],
)
def test_diebold_mariano_horizon_two_by_hand(forecast, weight):
    actual = np.zeros(8)
    forecast = np.array(forecast)
    benchmark = np.array([1.5, 1.0, -1.0, 1.0, 1.5, -1.0, 1.0, 0.5])
    d = np.abs(forecast) - np.abs(benchmark)
    n, h = 8, 2
    mean = d.mean()
    gamma0 = np.mean((d - mean) ** 2)
    gamma1 = np.sum((d[1:] - mean) * (d[:-1] - mean)) / n
    assert (gamma0 + 2 * gamma1 > 0) == (weight == 1.0)
    variance = (gamma0 + 2 * weight * gamma1) / n
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    expected = mean / math.sqrt(variance) * correction
    result = diebold_mariano(actual, forecast, benchmark, horizon=h, loss="absolute")
    assert result.statistic == pytest.approx(expected)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(abs(expected), df=n - 1))


def test_diebold_mariano_of_identical_forecasts_is_undefined():
    actual = np.arange(10.0)
    result = diebold_mariano(actual, actual + 1, actual + 1)
    assert math.isnan(result.statistic) and math.isnan(result.pvalue)


@pytest.mark.parametrize("p_up_actual, p_up_forecast", [(0.7, 0.3), (0.8, 0.6), (0.35, 0.75)])
def test_pesaran_timmermann_is_standard_normal_under_independence_at_unequal_shares(
    p_up_actual: float, p_up_forecast: float
) -> None:
    """Under independent signs the statistic is N(0, 1) whatever the shares of up-days; the variance of
    the expected hit rate (the (2py - 1)^2 px (1 - px) / n terms) is what keeps it so when py, px != 0.5.
    An independent reference: the statistic's own sampling distribution, simulated."""
    rng = np.random.default_rng(12)
    n, runs = 400, 3000
    values = []
    for _ in range(runs):
        actual = np.where(rng.uniform(size=n) < p_up_actual, 1.0, -1.0) * rng.uniform(0.1, 1.0, n)
        forecast = np.where(rng.uniform(size=n) < p_up_forecast, 1.0, -1.0)
        values.append(pesaran_timmermann(actual, forecast).statistic)
    values = np.asarray(values)
    assert abs(values.mean()) < 0.1
    assert values.var() == pytest.approx(1.0, abs=0.08)
    # The one-sided p-value is uniform: about 5 % of independent forecasts look significant at 5 %.
    pvalues = stats.norm.sf(values)
    assert np.mean(pvalues < 0.05) == pytest.approx(0.05, abs=0.015)


def test_giacomini_white_against_the_uncentred_r2_of_an_ols_reference() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    model_loss, benchmark_loss = rng.gamma(2.0, 1.0, 400), rng.gamma(2.1, 1.0, 400)
    result = giacomini_white(model_loss, benchmark_loss)
    d = model_loss - benchmark_loss
    z = np.column_stack([d[1:], d[:-1] * d[1:]])
    ones = np.ones(len(z))
    fit = sm.OLS(ones, z).fit()
    uncentred_r2 = 1 - np.sum(fit.resid**2) / np.sum(ones**2)
    assert abs(result.statistic) == pytest.approx(len(z) * uncentred_r2, rel=1e-9)
    assert result.pvalue == pytest.approx(stats.chi2.sf(len(z) * uncentred_r2, 2), rel=1e-9)
    assert result.n == 399 and np.sign(result.statistic) == np.sign(d.mean())


def test_giacomini_white_sees_predictable_skill_that_diebold_mariano_averages_away() -> None:
    # The model is better after a day it was better and worse after a day it was worse: equal mean losses.
    rng = np.random.default_rng(0)
    n = 2000
    d = np.zeros(n)
    for t in range(1, n):
        d[t] = 0.6 * d[t - 1] + rng.normal(0, 0.1)
    benchmark = np.full(n, 5.0)
    model = benchmark + d - d.mean()
    assert dm_test(model, benchmark).pvalue > 0.05
    assert giacomini_white(model, benchmark).pvalue < 1e-6
    noise = rng.normal(0, 0.1, n)
    assert giacomini_white(benchmark + noise, benchmark).pvalue > 0.01  # no predictable difference


def test_the_leaderboard_adds_giacomini_white_when_asked(small_task) -> None:
    from gan_trader.config import EvaluationConfig

    forecasts = run_baselines(["persistence", "drift"], small_task, seed=0)
    assert "gw_pvalue" not in evaluate(small_task, forecasts, EvaluationConfig()).table
    table = evaluate(small_task, forecasts, EvaluationConfig(giacomini_white=True)).table
    close = small_task.close
    drift = forecasts[1]
    actual = np.log(close.loc[drift.target_dates].to_numpy() / close.loc[drift.origins].to_numpy())
    expected = giacomini_white(np.abs(drift.log_return - actual), np.abs(actual))
    assert table.loc["drift", "gw_pvalue"] == pytest.approx(expected.pvalue)
    assert math.isnan(table.loc["persistence", "gw_pvalue"])  # against itself: nothing to test
