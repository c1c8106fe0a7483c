"""ARIMA(5,1,0) on the log close: parameters fitted on the training rows, then filtered causally.

The one-step forecast made at t is the state-space filter's prediction for t+1 from data up to t, run with
the training parameters held fixed (no refit, no look-ahead). On the log close, d=1 makes it an AR(5) on
log returns, so the forecast is a return and a price at once.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask


class ArimaBaseline(Forecaster):
    """statsmodels ARIMA(order) fitted on log closes up to train_end; forecasts by causal filtering."""

    name = "arima"

    def __init__(self, seed: int = 0, order: tuple[int, int, int] = (5, 1, 0)) -> None:
        self.seed = seed
        self.order = order
        self.result: Any = None  # statsmodels ARIMAResults once fitted

    def fit(self, task: ForecastTask) -> ArimaBaseline:
        from statsmodels.tsa.arima.model import ARIMA

        log_close = np.log(task.close.loc[: task.split.train_end].to_numpy(dtype=float))
        if len(log_close) < 3 * sum(self.order) + 10:
            raise TrainingError(f"arima: {len(log_close)} training rows are too few for ARIMA{self.order}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the fit is checked below
            # Innovations MLE: the same Gaussian likelihood as the state-space fit, several times faster.
            self.result = ARIMA(log_close, order=self.order).fit(method="innovations_mle")
        if not np.isfinite(self.result.params).all():
            raise TrainingError(f"arima: ARIMA{self.order} fit gave non-finite parameters")
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.result is None:
            raise RuntimeError("ArimaBaseline.predict called before fit")
        close = task.close
        positions = close.index.get_indexer(origins)
        if (positions < 0).any():
            raise TrainingError(f"arima: origin {origins[positions < 0][0].date()} is not a feature row")
        last = int(positions.max())
        # Only rows up to the last origin are filtered: nothing after it can reach a forecast.
        log_close = np.log(close.iloc[: last + 1].to_numpy(dtype=float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filtered = self.result.apply(log_close, refit=False)
            # Element i of the prediction is the one-step forecast of log_close[i] from rows < i.
            predicted = np.asarray(filtered.predict(start=1, end=last + 1), dtype=float)
        next_log_close = predicted[positions]  # prediction for position p + 1 sits at index p
        log_return = next_log_close - log_close[positions]
        return Forecast.from_returns(self.name, task, origins, log_return)
