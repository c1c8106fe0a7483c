"""ARIMA one-step forecasts as a feature: parameters fitted once on the training span, then filtered.

The original refitted ARIMA(5,1,0) on the whole history every day (slow) and on all rows (look-ahead). Here
the parameters come from the training span alone; the feature at row t is the forecast for t+1 that the
Kalman filter of that model, run with those fixed parameters over rows <= t, makes at t. The filter is a
recursion over time, so row t never sees a later row, and one pass costs about as much as one likelihood
evaluation (see `gan_trader.bench.features.bench_arima` for the speed-up over daily refits).

`representation: stationary` (the default) fits the model to the log close and gives the forecast as a
predicted log return, log(forecast) - log(close_t), which keeps its range whatever the price level; `level`
fits it to the close and gives the forecast price itself, as the article did.

With `refit_every: k` the parameters are re-estimated every k days after train_end on the expanding window
(rows <= the refit day, starting from the previous estimate), and the forecasts of the following k days
come from a filter with those parameters run over rows up to each forecast day only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from statsmodels.tsa.arima.model import ARIMA

from gan_trader.errors import FeatureError
from gan_trader.features.base import Artifact, FeatureBuilder, RepresentationParams, one_blas_thread


class ArimaParams(RepresentationParams):
    """`order` = (p, d, q); `refit_every`: days between re-estimations after train_end (None: never)."""

    column: str = "close"
    order: tuple[int, int, int] = (5, 1, 0)
    refit_every: int | None = Field(None, ge=1, le=10_000)

    @field_validator("order")
    @classmethod
    def _order_range(cls, order: tuple[int, int, int]) -> tuple[int, int, int]:
        for name, value, high in zip("pdq", order, (20, 2, 20), strict=True):
            if not 0 <= value <= high:
                raise ValueError(f"{name}={value} is out of range 0..{high}")
        if order[0] + order[2] == 0:
            raise ValueError("p and q are both 0: the model has nothing to forecast with")
        return order


def arima_model(values: np.ndarray, order: tuple[int, int, int]) -> ARIMA:
    return ARIMA(np.asarray(values, float), order=order)


def fit_arima(
    values: np.ndarray, order: tuple[int, int, int], start_params: np.ndarray | None = None
) -> np.ndarray:
    """Maximum-likelihood parameters of ARIMA(order) on `values` (statsmodels' state-space fit)."""
    with one_blas_thread(), warnings.catch_warnings():
        # Convergence chatter on short or flat spans; the estimate is still the optimiser's best.
        warnings.simplefilter("ignore")
        result = arima_model(values, order).fit(start_params=start_params)
    return np.asarray(result.params)


def one_step_forecasts(values: np.ndarray, order: tuple[int, int, int], params: np.ndarray) -> np.ndarray:
    """forecast[t] = E[y_{t+1} | y_0..y_t] under fixed `params`, from one Kalman-filter pass."""
    with one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filtered = arima_model(values, order).filter(params)
        # predict(start=1, end=n) gives the one-step prediction of rows 1..n, each made one row earlier.
        return np.asarray(filtered.predict(start=1, end=len(values)))


class ArimaForecast(FeatureBuilder[ArimaParams]):
    """The original's ARIMA(5,1,0) feature, made causal and about a hundred times cheaper."""

    name = "arima"
    Params = ArimaParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> ArimaForecast:
        params = self.params
        self.require(frame, [params.column])
        training = self._series(self.training_rows(frame, train_end))
        p, d, q = params.order
        needed = max(3 * (p + q + d) + 10, 30)
        if len(training) < needed:
            raise FeatureError(
                f"features.builders.{self.name}.order: ARIMA{params.order} needs at least {needed} training "
                f"rows, the training span has {len(training)}"
            )
        if not np.isfinite(training).all():
            raise FeatureError(f"features.builders.{self.name}.column: '{params.column}' has missing values")
        self.train_end = train_end
        self.train_rows = len(training)
        self.estimate = fit_arima(training, params.order)
        names = arima_model(training[:50], params.order).param_names
        table = pd.DataFrame({"parameter": names, "value": self.estimate})
        self.artifacts = [Artifact(name="arima_params", table=table)]
        return self

    def _series(self, frame: pd.DataFrame) -> np.ndarray:
        """What the model is fitted to: the close, or its log (stationary representation)."""
        values = frame[self.params.column].to_numpy(float)
        if self.params.representation == "level":
            return values
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.where(values > 0, values, np.nan))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        params = self.params
        self.require(frame, [params.column])
        values = self._series(frame)
        forecast = one_step_forecasts(values, params.order, self.estimate)
        if params.refit_every is not None:
            forecast = self._refitted(values, forecast, params.refit_every)
        if params.representation == "level":
            return pd.DataFrame({self.column("forecast"): forecast}, index=frame.index)
        return pd.DataFrame({self.column("forecast_log_return"): forecast - values}, index=frame.index)

    def _refitted(self, values: np.ndarray, forecast: np.ndarray, every: int) -> np.ndarray:
        """Replace forecasts after train_end by those of parameters re-estimated every `every` days."""
        result = forecast.copy()
        estimate = self.estimate
        # Positions: the training span is rows [0, train_rows); refit days are train_rows-1+every, +2*every...
        for refit_day in range(self.train_rows - 1 + every, len(values), every):
            estimate = fit_arima(values[: refit_day + 1], self.params.order, start_params=estimate)
            block_end = min(refit_day + every, len(values))
            # Filtering only rows <= block_end - 1 keeps each forecast in the block causal by construction.
            block = one_step_forecasts(values[:block_end], self.params.order, estimate)
            result[refit_day:block_end] = block[refit_day:block_end]
        return result
