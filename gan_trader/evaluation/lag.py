"""Lag diagnostic (from the critique note): does the forecast track the target day, or the day before it?

corr(forecast for day d, actual on day d - k) for k in -5..+5. An honest forecast peaks at k = 0; a peak at
k = +1 means the forecast mostly repeats yesterday's value, the classic look of a price-level model that
"tracks" the price one day late. Computed in price space (where the critique saw it) and in return space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, ForecastTask

LAGS = tuple(range(-5, 6))


@dataclass(frozen=True)
class LagDiagnostic:
    """Correlation per lag (index: k) and where it peaks; `repeats_yesterday` flags a peak at k = +1.

    A peak further back (k > 1: a smoothed, late copy of the past) is not "yesterday" but lags all the same;
    `lags_behind` flags any peak after 0.
    """

    correlations: pd.Series
    peak_lag: int | None
    repeats_yesterday: bool

    @property
    def lags_behind(self) -> bool:
        return self.peak_lag is not None and self.peak_lag > 0


def lag_correlations(forecast: pd.Series, actual: pd.Series, lags: tuple[int, ...] = LAGS) -> pd.Series:
    """corr(forecast[d], actual[d - k]) per lag k; `forecast` is indexed by target day, `actual` by day."""
    positions = actual.index.get_indexer(forecast.index)
    if (positions < 0).any():
        raise ValueError("every forecast target day must be a day of the actual series")
    values = actual.to_numpy(dtype=float)
    predicted = forecast.to_numpy(dtype=float)
    result = {}
    for k in lags:
        shifted = positions - k
        ok = (shifted >= 0) & (shifted < len(values))
        x, y = predicted[ok], values[shifted[ok]]
        result[k] = float(np.corrcoef(x, y)[0, 1]) if ok.sum() > 2 and x.std() > 0 and y.std() > 0 else np.nan
    return pd.Series(result, name="correlation").rename_axis("lag")


def diagnose(correlations: pd.Series) -> LagDiagnostic:
    """Peak of a correlation profile; a constant forecast has no profile and no peak."""
    if correlations.isna().all():
        return LagDiagnostic(correlations, None, False)
    peak = int(correlations.idxmax())
    return LagDiagnostic(correlations, peak, peak == 1)


def lag_diagnostic(task: ForecastTask, forecast: Forecast, space: str = "price") -> LagDiagnostic:
    """The diagnostic of one forecast against the task's close (space "price") or daily log returns."""
    close = task.close
    if space == "price":
        actual = close
        predicted = pd.Series(forecast.price, index=forecast.target_dates)
    else:
        actual = np.log(close / close.shift(1))
        predicted = pd.Series(forecast.log_return, index=forecast.target_dates)
    return diagnose(lag_correlations(predicted, actual))
