"""Drift: every day moves by the mean training log return (a random walk with drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask


class Drift(Forecaster):
    """Forecasts log(close[t+1] / close[t]) = mean log return over the training targets."""

    name = "drift"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.mean_return: float | None = None

    def fit(self, task: ForecastTask) -> Drift:
        returns = task.next_day_returns().loc[task.origins("train")].dropna()
        if returns.empty:
            raise TrainingError("drift: no training returns to average")
        self.mean_return = float(returns.mean())
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.mean_return is None:
            raise RuntimeError("Drift.predict called before fit")
        return Forecast.from_returns(self.name, task, origins, np.full(len(origins), self.mean_return))
