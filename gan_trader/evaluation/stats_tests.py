"""Significance tests for forecasts: Pesaran-Timmermann (direction), Diebold-Mariano (accuracy) and
Giacomini-White (conditional predictive ability).

None is in scipy, statsmodels or arch as a function; each is built here from its distribution (scipy.stats)
and, for DM, the HAC long-run variance of the loss differential (statsmodels' autocovariance estimator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class StatResult:
    """A test statistic, its p-value and the number of observations it used."""

    statistic: float
    pvalue: float
    n: int


def pesaran_timmermann(actual: np.ndarray, predicted: np.ndarray) -> StatResult:
    """Pesaran & Timmermann (1992): are forecast signs independent of realised signs? One-sided p-value.

    Days where the realised move is zero are left out. A forecast with a constant sign carries no directional
    information; the statistic is then undefined (NaN).
    """
    actual = np.asarray(actual, float)
    predicted = np.asarray(predicted, float)
    keep = actual != 0
    up_actual = actual[keep] > 0
    up_predicted = predicted[keep] > 0
    n = int(keep.sum())
    if n < 2:
        return StatResult(float("nan"), float("nan"), n)
    p_hat = float(np.mean(up_actual == up_predicted))
    py, px = float(up_actual.mean()), float(up_predicted.mean())
    p_star = py * px + (1 - py) * (1 - px)
    var_p_hat = p_star * (1 - p_star) / n
    var_p_star = (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    denominator = var_p_hat - var_p_star
    if denominator <= 0:
        return StatResult(float("nan"), float("nan"), n)
    statistic = (p_hat - p_star) / math.sqrt(denominator)
    return StatResult(float(statistic), float(stats.norm.sf(statistic)), n)


def diebold_mariano(
    actual: np.ndarray,
    forecast: np.ndarray,
    benchmark: np.ndarray,
    horizon: int = 1,
    loss: Literal["squared", "absolute"] = "squared",
) -> StatResult:
    """Diebold & Mariano (1995) on the point forecasts' squared or absolute errors (see `dm_test`)."""
    actual = np.asarray(actual, float)
    error_f = np.asarray(forecast, float) - actual
    error_b = np.asarray(benchmark, float) - actual
    if loss == "squared":
        return dm_test(error_f**2, error_b**2, horizon)
    return dm_test(np.abs(error_f), np.abs(error_b), horizon)


def dm_test(
    model_loss: np.ndarray,
    benchmark_loss: np.ndarray,
    horizon: int = 1,
    alternative: Literal["two-sided", "less"] = "two-sided",
) -> StatResult:
    """Diebold & Mariano (1995) with the Harvey, Leybourne & Newbold (1997) small-sample correction, on
    any per-day losses (absolute errors, CRPS...).

    d_t = model_loss_t - benchmark_loss_t; a negative statistic means the model is more accurate.
    The variance of mean(d) is the long-run (HAC) variance with `horizon - 1` lags: the truncated uniform
    kernel of the original test, or the Bartlett (Newey-West) kernel when that estimate is not positive. The
    p-value is from Student's t with n - 1 df: two-sided, or with `alternative="less"` one-sided for "is the
    model better?" (H1: E[d] < 0; a small p says its losses are significantly lower). For horizon 1 the
    statistic equals the one-sample t statistic of d.
    """
    from statsmodels.tsa.stattools import acovf

    differential = np.asarray(model_loss, float) - np.asarray(benchmark_loss, float)
    n = len(differential)
    if n < 3 or not np.isfinite(differential).all():
        return StatResult(float("nan"), float("nan"), n)
    lags = horizon - 1
    autocov = acovf(differential, demean=True, fft=False, nlag=lags)
    long_run = autocov[0] + 2 * float(np.sum(autocov[1:]))
    if long_run <= 0:
        weights = 1 - np.arange(1, lags + 1) / (lags + 1)
        long_run = autocov[0] + 2 * float(np.sum(weights * autocov[1:]))
    if long_run <= 0:  # identical losses every day: no difference to test
        return StatResult(float("nan"), float("nan"), n)
    dm = float(np.mean(differential)) / math.sqrt(long_run / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    if alternative == "less":
        pvalue = float(stats.t.cdf(statistic, df=n - 1))
    else:
        pvalue = 2 * float(stats.t.sf(abs(statistic), df=n - 1))
    return StatResult(float(statistic), pvalue, n)


def giacomini_white(model_loss: np.ndarray, benchmark_loss: np.ndarray) -> StatResult:
    """Giacomini & White (2006) conditional predictive ability of one-step forecasts: can yesterday's
    information predict which forecast will be more accurate tomorrow? (H0: E[d_t+1 | h_t] = 0.)

    d_t = model_loss_t - benchmark_loss_t, instruments h_t = (1, d_t); Z_t = h_t d_t+1. The Wald statistic
    n Zbar' S^-1 Zbar with S = mean(Z_t Z_t') (no HAC at horizon 1) is chi-squared with 2 df; it equals n
    times the uncentred R^2 of regressing a column of ones on Z. The statistic carries the sign of mean(d):
    negative means the model had the lower mean loss. Unlike Diebold-Mariano it can reject when the average
    losses tie but the model is better in predictable states.
    """
    differential = np.asarray(model_loss, float) - np.asarray(benchmark_loss, float)
    n = len(differential) - 1
    if n < 3 or not np.isfinite(differential).all():
        return StatResult(float("nan"), float("nan"), max(n, 0))
    instruments = np.column_stack([np.ones(n), differential[:-1]])
    z = instruments * differential[1:, None]
    mean = z.mean(axis=0)
    second = z.T @ z / n
    try:
        wald = float(n * mean @ np.linalg.solve(second, mean))
    except np.linalg.LinAlgError:  # identical losses every day: nothing to test
        return StatResult(float("nan"), float("nan"), n)
    if not math.isfinite(wald):
        return StatResult(float("nan"), float("nan"), n)
    sign = -1.0 if np.mean(differential) < 0 else 1.0
    return StatResult(sign * wald, float(stats.chi2.sf(wald, df=instruments.shape[1])), n)
