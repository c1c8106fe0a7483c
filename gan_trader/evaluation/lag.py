"""Lag diagnostic (from the critique note): does the forecast track the target day, or the day before it?

corr(forecast for day d, actual on day d - k) for k in -5..+5, in return space and in price space.
- Return space (the informative one): a forecast with skill correlates with the day's realised return at
  k = 0. When that lag-0 correlation lies within +-1.96/sqrt(n) the forecast shows **no skill** at the 5 %
  level, whatever its profile elsewhere; a peak at k = +1 means it echoes the return already known.
- Price space: any forecast of a small return sits next to yesterday's close, so every return model peaks
  at k = +1 there. The flag **repeats yesterday** (a price-space peak at +1) is therefore given only to
  price-level models (forecasts made with `Forecast.from_prices`), the critique's case.
What it cannot detect: skill at horizons other than one day, skill in the distribution rather than the
mean, or a weak but real correlation on few days (the band is wide for small n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, ForecastTask

LAGS = tuple(range(-5, 6))
Space = Literal["price", "return"]


@dataclass(frozen=True)
class LagDiagnostic:
    """Correlation per lag (index: k), where it peaks, and what that says (see the module docstring)."""

    correlations: pd.Series
    peak_lag: int | None
    space: Space = "return"
    days: int = 0  # forecast/actual pairs at lag 0
    price_level: bool = False

    @property
    def skill_band(self) -> float:
        """Half-width of the 95 % band of a zero correlation over `days` pairs."""
        return 1.96 / math.sqrt(self.days) if self.days > 0 else math.inf

    @property
    def no_skill(self) -> bool:
        """Return space: the lag-0 correlation is indistinguishable from zero (or undefined)."""
        if self.space != "return":
            return False
        at_zero = self.correlations.get(0, np.nan)
        return not np.isfinite(at_zero) or abs(at_zero) <= self.skill_band

    @property
    def repeats_yesterday(self) -> bool:
        """A price-level model whose price-space profile peaks at +1: it mostly repeats yesterday's close."""
        return self.space == "price" and self.price_level and self.peak_lag == 1

    @property
    def lags_behind(self) -> bool:
        """The profile peaks after day 0: the forecast follows the past rather than the target day."""
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


def diagnose(
    correlations: pd.Series, space: Space = "return", days: int = 0, price_level: bool = False
) -> LagDiagnostic:
    """Peak of a correlation profile; a constant forecast has no profile and no peak."""
    peak = None if correlations.isna().all() else int(correlations.idxmax())
    return LagDiagnostic(correlations, peak, space, days, price_level)


def lag_diagnostic(task: ForecastTask, forecast: Forecast, space: Space = "return") -> LagDiagnostic:
    """The diagnostic of one forecast against the task's close (space "price") or daily log returns."""
    close = task.close
    if space == "price":
        actual = close
        predicted = pd.Series(forecast.price, index=forecast.target_dates)
    else:
        actual = np.log(close / close.shift(1))
        predicted = pd.Series(forecast.log_return, index=forecast.target_dates)
    days = int(actual.reindex(forecast.target_dates).notna().sum())
    return diagnose(lag_correlations(predicted, actual), space, days, forecast.price_level)
