"""Persistence: tomorrow's close equals today's, i.e. a zero log return. The bar every model must clear."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, Forecaster, ForecastTask


class Persistence(Forecaster):
    """Forecasts close[t+1] = close[t]; nothing to fit."""

    name = "persistence"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, task: ForecastTask) -> Persistence:
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        return Forecast.from_returns(self.name, task, origins, np.zeros(len(origins)))
