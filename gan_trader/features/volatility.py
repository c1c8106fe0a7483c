"""Volatility features: what a forecast distribution's scale can be read from, all causal and stationary.

Members (each a column `volatility.<name>`; variances enter as logs, so that a calm and a turbulent year lie
on one scale):
- range-based daily variance where the target has High/Low: Parkinson, (ln H/L)^2 / (4 ln 2), and
  Garman-Klass, 0.5 (ln H/L)^2 - (2 ln 2 - 1) (ln C/O)^2 (the open is needed; without it Garman-Klass is left
  out), each averaged over the HAR windows (1, 5 and 22 days: Corsi's day, week and month);
- the squared daily return averaged over the HAR windows longer than a day;
- absolute and log squared returns of the last days (`return_lags`: 0 is today's);
- EWMA volatility at two half-lives (log variance);
- the market's volatility: the cross-sectional mean absolute return of the panel's other equity series
  (`market`; default every series of class equity: macro and commodity series are left out), averaged over
  1 and 5 days, as a log;
- optionally the GARCH(1,1) conditional standard deviation (`arch`) with parameters fitted on the training
  span and the variance filtered forward with them held fixed (log variance).

Row t uses prices up to t only. Fitted on the training span: the floor below each log (a thousandth of the
member's median positive training value, so that a day without range gives a finite value) and the GARCH
parameters. A close-only file gets the close-based members and one note naming the skipped ones; a panel
without other equity series gets no market volatility and one note.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from gan_trader.errors import FeatureError
from gan_trader.features.base import BuilderParams, FeatureBuilder, one_blas_thread

RangeEstimator = Literal["parkinson", "garman_klass"]
GARCH_SCALE = 100.0  # arch's optimiser is happiest with returns in percent
FLOOR_SHARE = 1e-3  # a log's floor: this share of the member's median positive training value
MIN_GARCH_ROWS = 200
BACKCAST_DAYS = 75  # arch's backcast reads the first 75 returns


def _distinct_within(values: list[int], low: int, high: int, what: str) -> list[int]:
    """`values` sorted, when they are distinct and lie in [low, high] (else the validator's error)."""
    if any(v < low or v > high for v in values) or len(set(values)) != len(values):
        raise ValueError(f"{what} must be distinct and lie between {low} and {high}, got {values}")
    return sorted(values)


class VolatilityParams(BuilderParams):
    """Which members to build; windows in trading days."""

    range_estimators: list[RangeEstimator] = Field(
        default_factory=lambda: list[RangeEstimator](["parkinson", "garman_klass"])
    )
    har_windows: list[int] = Field(default_factory=lambda: [1, 5, 22], min_length=1)
    return_lags: list[int] = Field(default_factory=lambda: [0, 1, 2])
    ewma_halflives: list[float] = Field(default_factory=lambda: [10.0, 40.0])
    market: list[str] | None = Field(
        None, description="panel series whose returns make the market's volatility (default: the equities)"
    )
    market_windows: list[int] = Field(default_factory=lambda: [1, 5])
    garch: bool = Field(False, description="add the GARCH(1,1) conditional sd fitted on the training span")

    @field_validator("har_windows", "market_windows")
    @classmethod
    def _windows(cls, windows: list[int]) -> list[int]:
        return _distinct_within(windows, 1, 1000, "windows")

    @field_validator("return_lags")
    @classmethod
    def _lags(cls, lags: list[int]) -> list[int]:
        return _distinct_within(lags, 0, 250, "lags")

    @field_validator("ewma_halflives")
    @classmethod
    def _halflives(cls, halflives: list[float]) -> list[float]:
        if any(not 0.5 <= h <= 1000 for h in halflives):
            raise ValueError(f"half-lives must lie between 0.5 and 1000 days, got {halflives}")
        return halflives


def parkinson_variance(high: pd.Series, low: pd.Series) -> pd.Series:
    """Parkinson (1980): the daily variance from the high-low range, (ln H/L)^2 / (4 ln 2)."""
    return np.log(high / low) ** 2 / (4.0 * math.log(2.0))


def garman_klass_variance(open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """Garman & Klass (1980): 0.5 (ln H/L)^2 - (2 ln 2 - 1) (ln C/O)^2."""
    return 0.5 * np.log(high / low) ** 2 - (2.0 * math.log(2.0) - 1.0) * np.log(close / open_) ** 2


def _suffix(value: float) -> str:
    return f"{value:g}".replace(".", "_")


class VolatilityFeatures(FeatureBuilder[VolatilityParams]):
    """HAR-style volatility inputs: range-based variances, return magnitudes, EWMA, the market's, GARCH."""

    name = "volatility"
    Params = VolatilityParams

    # ------------------------------------------------------------------ members

    def _range_members(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        """Daily range-based variances the data supports (one note per estimator left out)."""
        found: dict[str, pd.Series] = {}
        has_range = {"high", "low"} <= set(frame.columns)
        for estimator in self.params.range_estimators:
            if not has_range:
                self.note(f"{estimator} left out: the target's file has no High/Low columns")
                continue
            high, low = frame["high"].astype(float), frame["low"].astype(float)
            if estimator == "parkinson":
                found[estimator] = parkinson_variance(high, low)
            elif "open" in frame.columns:
                found[estimator] = garman_klass_variance(
                    frame["open"].astype(float), high, low, frame["close"].astype(float)
                )
            else:
                self.note("garman_klass left out: the target's file has no Open column")
        return found

    def _market_columns(self, frame: pd.DataFrame) -> list[str]:
        names = self.params.market if self.params.market is not None else list(self.context.equity_assets)
        columns = []
        for name in names:
            column = name if name.endswith(".close") else f"{name}.close"
            if column not in frame.columns:
                raise FeatureError(f"features.builders.{self.name}.market: '{name}' is not a panel series")
            columns.append(column)
        if not columns and self.params.market_windows:
            self.note("market volatility left out: the panel has no other equity series")
        return columns

    def _raw(self, frame: pd.DataFrame) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
        """(members to log, members kept as they are), before the training-span floors."""
        params = self.params
        close = frame["close"].astype(float)
        returns = np.log(close / close.shift(1))
        squared = returns**2
        logged: dict[str, pd.Series] = {}
        plain: dict[str, pd.Series] = {}
        for estimator, variance in self._range_members(frame).items():
            for window in params.har_windows:
                logged[f"{estimator}_{window}d"] = variance.rolling(window, min_periods=window).mean()
        for window in params.har_windows:
            if window > 1:
                logged[f"sq_return_{window}d"] = squared.rolling(window, min_periods=window).mean()
        for lag in params.return_lags:
            plain[f"abs_return_lag{lag}"] = returns.abs().shift(lag)
            logged[f"sq_return_lag{lag}"] = squared.shift(lag)
        for halflife in params.ewma_halflives:
            logged[f"ewma_{_suffix(halflife)}d"] = squared.ewm(
                halflife=halflife, adjust=False, min_periods=int(math.ceil(2 * halflife))
            ).mean()
        market = self._market_columns(frame)
        if market and params.market_windows:
            prices = frame[market].astype(float)
            absolute = np.log(prices / prices.shift(1)).abs()
            cross_section = absolute.mean(axis=1, skipna=True).where(absolute.notna().any(axis=1))
            for window in params.market_windows:
                logged[f"market_abs_return_{window}d"] = cross_section.rolling(
                    window, min_periods=window
                ).mean()
        return logged, plain

    # ------------------------------------------------------------------ fit / transform

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> VolatilityFeatures:
        self.require(frame, ["close"])
        training = self.training_rows(frame, train_end)
        logged, _ = self._raw(frame)
        self.floors: dict[str, float] = {}
        for name, series in logged.items():
            values = series.loc[:train_end].to_numpy(float)
            if not np.isfinite(values).any():
                raise FeatureError(
                    f"features.builders.{self.name}: '{name}' is undefined on every training row (the "
                    f"training span has {len(training)} rows, fewer than its window needs)"
                )
            positive = values[np.isfinite(values) & (values > 0)]
            if len(positive) == 0:
                raise FeatureError(
                    f"features.builders.{self.name}: '{name}' has no positive value on the training span"
                )
            self.floors[name] = FLOOR_SHARE * float(np.median(positive))
        self.garch_params: np.ndarray | None = None
        if self.params.garch:
            self.garch_params = self._fit_garch(training["close"].astype(float))
        return self

    def _fit_garch(self, close: pd.Series) -> np.ndarray:
        from arch import arch_model

        returns = np.log(close / close.shift(1)).dropna().to_numpy() * GARCH_SCALE
        if len(returns) < MIN_GARCH_ROWS:
            raise FeatureError(
                f"features.builders.{self.name}.garch: {len(returns)} training returns, "
                f"fewer than the {MIN_GARCH_ROWS} a GARCH fit needs"
            )
        model = arch_model(returns, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        with one_blas_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; checked below
            result = model.fit(disp="off", show_warning=False)
        if result.convergence_flag != 0 or not np.isfinite(result.params).all():
            raise FeatureError(f"features.builders.{self.name}.garch: the GARCH(1,1) fit did not converge")
        return np.asarray(result.params, float)

    def _garch_variance(self, close: pd.Series) -> pd.Series:
        """The variance of r[t+1] forecast at t by the filter with the training parameters held fixed.

        arch starts the recursion from a backcast of the first BACKCAST_DAYS returns, so those days' values
        would read later rows: they are left undefined (warm-up)."""
        from arch import arch_model

        returns = np.log(close / close.shift(1))
        valid = returns.dropna()
        model = arch_model(valid.to_numpy() * GARCH_SCALE, mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forecast = model.fix(self.garch_params).forecast(horizon=1, start=0, reindex=False)
        variance = forecast.variance.to_numpy(float)[:, 0] / GARCH_SCALE**2
        variance[:BACKCAST_DAYS] = np.nan
        return pd.Series(variance, index=valid.index).reindex(close.index)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.require(frame, ["close"])
        logged, plain = self._raw(frame)
        missing = [name for name in logged if name not in self.floors]
        if missing:
            raise FeatureError(f"features.builders.{self.name}: '{missing[0]}' was not fitted")
        output: dict[str, pd.Series] = {}
        for name, series in logged.items():
            output[f"log_{name}"] = np.log(series.clip(lower=self.floors[name]))
        output.update(plain)
        if self.garch_params is not None:
            output["log_garch_variance"] = np.log(self._garch_variance(frame["close"].astype(float)))
        return pd.DataFrame({self.column(k): v for k, v in output.items()}, index=frame.index)
