"""Scores of forecasts against realised values, shared by training (early stopping, epoch selection) and
evaluation (the leaderboard).

Points: `relmae` is the MAE divided by persistence's MAE on the same (out-of-sample) days, so persistence
scores 1. Return space: persistence forecasts a zero log return; price space: persistence forecasts close[t].
`mase` is Hyndman & Koehler's (2006) mean absolute scaled error of the price forecast: its MAE divided by the
in-sample MAE of the one-step naive forecast over the training span. Its scale is the training span's, so
a price level (or volatility) on the test days far above the training span's inflates it.
Distributions: fair CRPS, pinball losses, central-interval coverage and interval scores, PIT; `crps_rel`
divides a model's mean CRPS by that of a zero-mean Gaussian with the trailing 60-day sd on the same days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_trader.models.base import NORMAL_SD, Forecast, ForecastTask


def _mae(error: np.ndarray) -> float:
    return float(np.mean(np.abs(error)))


def point_metrics(
    actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    """MAE, RMSE, MAPE and relmae (MAE / persistence's MAE) of `predicted` against `actual`; `naive` is
    persistence on the same days."""
    actual = np.asarray(actual, float)
    predicted = np.asarray(predicted, float)
    naive = np.asarray(naive, float)
    error = predicted - actual
    naive_mae = _mae(naive - actual)
    metrics = {
        "mae": _mae(error),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "relmae": _mae(error) / naive_mae if naive_mae > 0 else float("nan"),
    }
    nonzero = np.abs(actual) > 0
    if nonzero.all():
        metrics["mape"] = float(np.mean(np.abs(error / actual)) * 100.0)
    return {f"{prefix}{k}": v for k, v in metrics.items()}


def directional_accuracy(actual_return: np.ndarray, predicted_return: np.ndarray) -> float:
    """Share of days whose forecast sign matches the realised move (days with a zero move are left out)."""
    actual_return = np.asarray(actual_return, float)
    predicted_return = np.asarray(predicted_return, float)
    moved = actual_return != 0
    if not moved.any():
        return float("nan")
    return float(np.mean(np.sign(predicted_return[moved]) == np.sign(actual_return[moved])))


def forecast_metrics(task: ForecastTask, forecast: Forecast, prefix: str = "") -> dict[str, float]:
    """Return-space and price-space metrics of a forecast against realised values on its target days."""
    close = task.close
    actual_price = close.loc[forecast.target_dates].to_numpy()
    anchor = close.loc[forecast.origins].to_numpy()
    actual_return = np.log(actual_price / anchor)
    metrics = point_metrics(actual_return, forecast.log_return, np.zeros_like(actual_return), f"{prefix}")
    metrics.pop(f"{prefix}mape", None)  # MAPE of returns near zero is meaningless
    metrics.update(point_metrics(actual_price, forecast.price, anchor, f"{prefix}price_"))
    metrics[f"{prefix}directional_accuracy"] = directional_accuracy(actual_return, forecast.log_return)
    return metrics


def crps_ensemble(actual: np.ndarray, samples: np.ndarray) -> float:
    """Mean continuous ranked probability score of ensembles (N, K) against outcomes (N,); lower is better.

    CRPS = E|X - y| - E|X - X'| / 2 for X, X' drawn from the ensemble; with one sample it is the MAE.
    """
    actual = np.asarray(actual, float)
    samples = np.sort(np.asarray(samples, float), axis=1)
    if samples.ndim != 2 or len(samples) != len(actual):
        raise ValueError(f"samples must be (N, K) with N = {len(actual)}, got shape {samples.shape}")
    k = samples.shape[1]
    spread_to_actual = np.mean(np.abs(samples - actual[:, None]), axis=1)
    # E|X - X'| from sorted samples: (2 / K^2) * sum_i (2i - K - 1) x_(i), i = 1..K.
    weights = 2.0 * np.arange(1, k + 1) - k - 1
    mean_pair_gap = 2.0 * (samples @ weights) / (k * k)
    return float(np.mean(spread_to_actual - 0.5 * mean_pair_gap))


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of outcomes inside [lower, upper]; a calibrated 90 % interval covers about 0.9."""
    actual = np.asarray(actual, float)
    return float(np.mean((actual >= np.asarray(lower, float)) & (actual <= np.asarray(upper, float))))


# leaderboard helpers (evaluation) -----------------------------------------------------------------


def relmae(actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray) -> float:
    """MAE of `predicted` divided by the MAE of the persistence forecast `naive` on the same days."""
    actual = np.asarray(actual, float)
    naive_mae = _mae(np.asarray(naive, float) - actual)
    return _mae(np.asarray(predicted, float) - actual) / naive_mae if naive_mae > 0 else float("nan")


def hyndman_mase(actual: np.ndarray, predicted: np.ndarray, in_sample: np.ndarray) -> float:
    """Hyndman & Koehler's MASE: MAE of `predicted` divided by the mean absolute one-step change of the
    in-sample series `in_sample` (the training span), i.e. the in-sample MAE of the naive forecast."""
    scale = _mae(np.diff(np.asarray(in_sample, float)))
    error = _mae(np.asarray(predicted, float) - np.asarray(actual, float))
    return error / scale if scale > 0 else float("nan")


def training_close(task: ForecastTask) -> np.ndarray:
    """The target's close on the training span (the in-sample series MASE is scaled by)."""
    close = task.close
    return close.loc[close.index <= task.split.train_end].to_numpy(dtype=float)


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (in %); meaningful for prices, not for returns near zero."""
    actual = np.asarray(actual, float)
    if (actual == 0).any():
        return float("nan")
    return float(np.mean(np.abs((np.asarray(predicted, float) - actual) / actual)) * 100.0)


# forecast distributions ---------------------------------------------------------------------------
# Samples are (N days, K draws) of next-day log returns. Scores are per day unless named `mean_*`; the
# ensemble CRPS is the fair (unbiased) estimator, so a model is not rewarded for a small K.

QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
INTERVAL_LEVELS = (0.5, 0.8, 0.9, 0.95)
REFERENCE_WINDOW = 60  # days of the trailing-volatility Gaussian that `crps_rel` divides by
MIN_SAMPLES = 200  # fewer draws bias quantiles and coverage; the leaderboard asks for at least this many


def crps_fair(actual: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Per-day CRPS of ensembles (N, K) against outcomes (N,), the fair (unbiased) estimator.

    scoringrules' probability-weighted-moment estimator is the fair estimator (Zamo & Naveau 2018) computed
    from the sorted ensemble in O(K log K); its "fair" option gives the same values from all K^2 pairs.
    """
    import scoringrules

    actual = np.asarray(actual, float)
    samples = np.asarray(samples, float)
    if samples.ndim != 2 or len(samples) != len(actual) or samples.shape[1] < 2:
        raise ValueError(f"samples must be (N, K >= 2) with N = {len(actual)}, got shape {samples.shape}")
    return np.asarray(scoringrules.crps_ensemble(actual, samples, estimator="pwm"), float)


def crps_gaussian(actual: np.ndarray, mean: np.ndarray | float, sd: np.ndarray) -> np.ndarray:
    """Per-day CRPS of N(mean, sd^2) forecasts, in closed form (scoringrules)."""
    import scoringrules

    return np.asarray(scoringrules.crps_normal(np.asarray(actual, float), mean, np.asarray(sd, float)), float)


def trailing_sd(close: pd.Series, origins: pd.DatetimeIndex, window: int = REFERENCE_WINDOW) -> np.ndarray:
    """Standard deviation of the `window` daily log returns up to and including each origin (causal)."""
    returns = np.log(close / close.shift(1))
    sd = returns.rolling(window, min_periods=max(window // 2, 2)).std()
    return sd.reindex(origins).to_numpy(float)


def forecast_crps(task: ForecastTask, forecast: Forecast) -> np.ndarray:
    """Per-day CRPS of a sampling forecast: in closed form for a Gaussian that states its sd
    (`extra["normal_sd"]`, mean = its point forecast), as `reference_crps` is; else the samples' fair CRPS."""
    actual = realised_returns(task, forecast)
    sd = forecast.extra.get(NORMAL_SD)
    if sd is not None and np.shape(sd) == np.shape(actual):
        return crps_gaussian(actual, forecast.log_return, np.asarray(sd, float))
    return crps_fair(actual, np.asarray(forecast.samples, float))


def realised_returns(task: ForecastTask, forecast: Forecast) -> np.ndarray:
    """log(close[t+1] / close[t]) for each origin t of the forecast."""
    close = task.close
    return np.log(close.loc[forecast.target_dates].to_numpy() / close.loc[forecast.origins].to_numpy())


def reference_crps(task: ForecastTask, forecast: Forecast) -> np.ndarray:
    """Per-day CRPS of the zero-mean Gaussian with the trailing 60-day sd: the yardstick of `crps_rel`."""
    sd = trailing_sd(task.panel.close, forecast.origins)
    return crps_gaussian(realised_returns(task, forecast), 0.0, sd)


def central_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-day bounds of the central `level` interval of the sample distribution."""
    tail = (1.0 - level) / 2.0
    bounds = np.quantile(np.asarray(samples, float), [tail, 1.0 - tail], axis=1)
    return bounds[0], bounds[1]


def pinball_loss(actual: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """Per-day pinball (quantile) loss of the `level` quantile forecast."""
    error = np.asarray(actual, float) - np.asarray(quantile, float)
    return np.maximum(level * error, (level - 1.0) * error)


def interval_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """Per-day interval (Winkler) score of a central `level` interval: width plus 2/alpha x the miss."""
    actual = np.asarray(actual, float)
    alpha = 1.0 - level
    below = np.maximum(lower - actual, 0.0)
    above = np.maximum(actual - upper, 0.0)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def pit_values(actual: np.ndarray, samples: np.ndarray, seed: int = 0) -> np.ndarray:
    """Randomised PIT of each outcome within its ensemble: uniform on (0, 1) when the samples and the
    outcome are exchangeable (a calibrated model), whatever K is; ties are broken at random."""
    actual = np.asarray(actual, float)[:, None]
    samples = np.asarray(samples, float)
    below = np.sum(samples < actual, axis=1)
    equal = np.sum(samples == actual, axis=1)
    rng = np.random.default_rng(seed)
    rank = below + rng.integers(0, equal + 1)  # position of the outcome among K + 1 values
    return (rank + rng.uniform(size=len(rank))) / (samples.shape[1] + 1)


def pit_coverage(pit: np.ndarray, level: float) -> float:
    """Share of outcomes inside the central `level` interval, read from their PIT values.

    Unlike counting outcomes between two sample quantiles, this is unbiased for any number of samples: a
    calibrated model covers `level` in expectation even with K = 50 draws.
    """
    return float(np.mean(np.abs(np.asarray(pit, float) - 0.5) <= level / 2.0))


def pit_uniformity_pvalue(pit: np.ndarray) -> float:
    """Kolmogorov-Smirnov p-value of PIT values against U(0, 1) (small: miscalibrated)."""
    from scipy import stats

    pit = np.asarray(pit, float)
    return float(stats.kstest(pit, "uniform").pvalue) if len(pit) else float("nan")


def distribution_metrics(
    actual: np.ndarray,
    samples: np.ndarray,
    reference: np.ndarray | None = None,
    prefix: str = "",
    crps: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean CRPS (fair), CRPS relative to `reference` (per-day CRPS of the yardstick) and skill, pinball
    losses, central-interval coverage (from the PIT) and interval scores (from sample quantiles), PIT
    uniformity p-value, median sample spread.

    :param crps: per-day CRPS known in closed form (a Gaussian forecast), used instead of the samples'.
    """
    actual = np.asarray(actual, float)
    samples = np.asarray(samples, float)
    crps = crps_fair(actual, samples) if crps is None else np.asarray(crps, float)
    metrics = {"crps": float(np.mean(crps))}
    if reference is not None:
        metrics["crps_rel"] = float(np.mean(crps) / np.mean(reference))
        metrics["crps_skill"] = 1.0 - metrics["crps_rel"]
    quantiles = np.quantile(samples, QUANTILE_LEVELS, axis=1)
    for level, quantile in zip(QUANTILE_LEVELS, quantiles, strict=True):
        metrics[f"pinball_{round(level * 100):02d}"] = float(np.mean(pinball_loss(actual, quantile, level)))
    pit = pit_values(actual, samples)
    for level in INTERVAL_LEVELS:
        lower, upper = central_interval(samples, level)
        name = round(level * 100)
        metrics[f"coverage_{name}"] = pit_coverage(pit, level)
        metrics[f"interval_score_{name}"] = float(np.mean(interval_score(actual, lower, upper, level)))
    metrics["pit_pvalue"] = pit_uniformity_pvalue(pit)
    metrics["sample_sd"] = float(np.median(np.std(samples, axis=1)))
    return {f"{prefix}{key}": value for key, value in metrics.items()}


def validation_scores(task: ForecastTask, forecast: Forecast, prefix: str = "val/") -> dict[str, float]:
    """What training and tuning select on: forecast_metrics of the point forecast and, when the forecast
    has samples, their mean CRPS and `crps_rel` (CRPS / the trailing-60-day Gaussian's on the same days)."""
    metrics = forecast_metrics(task, forecast, prefix)
    if forecast.samples is not None and np.ndim(forecast.samples) == 2 and np.shape(forecast.samples)[1] > 1:
        crps = crps_fair(realised_returns(task, forecast), forecast.samples)
        metrics[f"{prefix}crps"] = float(np.mean(crps))
        metrics[f"{prefix}crps_rel"] = float(np.mean(crps) / np.mean(reference_crps(task, forecast)))
    return metrics
