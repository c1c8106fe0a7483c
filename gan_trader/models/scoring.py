"""Point-forecast metrics. MASE is scaled by persistence's MAE on the same days, so persistence scores 1.

Return space: persistence forecasts a zero log return. Price space: persistence forecasts close[t].
"""

from __future__ import annotations

import numpy as np

from gan_trader.models.base import Forecast, ForecastTask


def _mae(error: np.ndarray) -> float:
    return float(np.mean(np.abs(error)))


def point_metrics(
    actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    """MAE, RMSE, MAPE and MASE of `predicted` against `actual`; `naive` is persistence on the same days."""
    actual = np.asarray(actual, float)
    predicted = np.asarray(predicted, float)
    naive = np.asarray(naive, float)
    error = predicted - actual
    naive_mae = _mae(naive - actual)
    metrics = {
        "mae": _mae(error),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mase": _mae(error) / naive_mae if naive_mae > 0 else float("nan"),
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


def mase(actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray) -> float:
    """MAE of `predicted` divided by the MAE of the persistence forecast `naive` on the same days."""
    actual = np.asarray(actual, float)
    naive_mae = _mae(np.asarray(naive, float) - actual)
    return _mae(np.asarray(predicted, float) - actual) / naive_mae if naive_mae > 0 else float("nan")


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (in %); meaningful for prices, not for returns near zero."""
    actual = np.asarray(actual, float)
    if (actual == 0).any():
        return float("nan")
    return float(np.mean(np.abs((np.asarray(predicted, float) - actual) / actual)) * 100.0)
