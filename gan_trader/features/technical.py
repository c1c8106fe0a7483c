"""Technical indicators of the target's price: moving averages, MACD, Bollinger bands, momentum, RSI/ATR/OBV.

Every indicator is a trailing computation (rolling windows, recursive EMAs seeded at the series start), so row
t uses rows <= t only and nothing is learned in `fit`. Conventions follow the `ta` library, against which the
tests check them on the bundled MSFT data:

- EMA: `ewm(span=n, adjust=False, min_periods=n)` (ta.trend.ema_indicator); EMA(com=0.5) is the span-2 EMA.
- standard deviation: population (ddof=0), as in ta.volatility.bollinger_* (the original used pandas' ddof=1).
- RSI: Wilder smoothing, `ewm(alpha=1/n, adjust=False, min_periods=n)` of gains and losses (ta.momentum.rsi).
- ATR: Wilder recursion seeded with the mean of the first n true ranges (ta.volatility.average_true_range);
  warm-up rows are NaN here where ta writes 0.
- OBV: cumulative volume, added unless the close fell (ta.volume.on_balance_volume).
- momentum: price_t - price_{t-n} and log(price_t / price_{t-n}) (the original's "price - 1" was no momentum).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from scipy.signal import lfilter

from gan_trader.errors import FeatureError
from gan_trader.features.base import BuilderParams, FeatureBuilder


class TechnicalParams(BuilderParams):
    """Window lengths in trading days; the optional indicators need high / low / volume columns."""

    # Defaults are validated too: a changed short window must still be checked against the default long one.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    column: str = "close"
    ma_short: int = Field(7, ge=1, le=1000)
    ma_long: int = Field(21, ge=1, le=1000)
    ema_fast: int = Field(12, ge=1, le=1000)
    ema_slow: int = Field(26, ge=1, le=1000)
    std_window: int = Field(20, ge=2, le=1000)
    bollinger_window: int = Field(21, ge=2, le=1000)
    bollinger_sd: float = Field(2.0, gt=0.0, le=10.0)
    ema_com: float = Field(0.5, ge=0.0, le=1000.0)
    momentum_days: int = Field(10, ge=1, le=1000)
    rsi: bool = False
    rsi_window: int = Field(14, ge=2, le=1000)
    atr: bool = False
    atr_window: int = Field(14, ge=2, le=1000)
    obv: bool = False

    @field_validator("ma_long", "ema_slow")
    @classmethod
    def _longer_than_short(cls, value: int, info: ValidationInfo) -> int:
        short = {"ma_long": "ma_short", "ema_slow": "ema_fast"}[str(info.field_name)]
        if short in info.data and info.data[short] >= value:
            raise ValueError(f"must be longer than {short} ({info.data[short]}), got {value}")
        return value

    def windows(self) -> dict[str, int]:
        """Each window parameter in use, by key (the longest decides how many rows are needed)."""
        used = {
            key: getattr(self, key)
            for key in ("ma_short", "ma_long", "ema_fast", "ema_slow", "std_window", "bollinger_window")
        }
        used["momentum_days"] = self.momentum_days + 1
        if self.rsi:
            used["rsi_window"] = self.rsi_window + 1
        if self.atr:
            used["atr_window"] = self.atr_window
        return used


def ema(series: pd.Series, span: int) -> pd.Series:
    """The `ta` EMA: recursive from the first row, defined once `span` rows exist."""
    return series.ewm(span=span, adjust=False, min_periods=span).mean()


def rolling_std(series: pd.Series, window: int) -> pd.Series:
    return series.rolling(window, min_periods=window).std(ddof=0)


def rsi(close: pd.Series, window: int) -> pd.Series:
    diff = close.diff(1)
    gains = diff.where(diff > 0, 0.0)
    losses = -diff.where(diff < 0, 0.0)
    mean_gain = gains.ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    mean_loss = losses.ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    value = 100.0 - 100.0 / (1.0 + mean_gain / mean_loss)
    # No loss in the window: RSI is 100 by definition (ta's convention), not 0/0.
    return value.mask(mean_loss == 0, 100.0).where(mean_loss.notna())


def average_true_range(high: pd.Series, low: pd.Series, close: pd.Series, window: int) -> pd.Series:
    previous = close.shift(1)
    true_range = pd.concat([high - low, (high - previous).abs(), (low - previous).abs()], axis=1).max(axis=1)
    values = true_range.to_numpy(float)
    atr = np.full(len(values), np.nan)
    if len(values) >= window:
        seed = values[:window].mean()
        # Wilder smoothing atr[i] = atr[i-1] * (n-1)/n + tr[i]/n, run as a linear filter seeded at `seed`.
        decay = (window - 1) / window
        tail, _ = lfilter([1 / window], [1.0, -decay], values[window:], zi=[decay * seed])
        atr[window - 1] = seed
        atr[window:] = tail
    return pd.Series(atr, index=close.index)


def on_balance_volume(close: pd.Series, volume: pd.Series) -> pd.Series:
    signed = np.where(close < close.shift(1), -volume, volume)
    return pd.Series(signed, index=close.index).cumsum()


class TechnicalIndicators(FeatureBuilder[TechnicalParams]):
    """The original's twelve indicators on the target's price, with momentum made a real momentum."""

    name = "technical"
    Params = TechnicalParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> TechnicalIndicators:
        self._required(frame)
        rows = len(self.training_rows(frame, train_end))
        key, longest = max(self.params.windows().items(), key=lambda item: item[1])
        if rows < longest:
            raise FeatureError(
                f"features.builders.{self.name}.{key}: needs {longest} rows, the training span has {rows}"
            )
        return self

    def _required(self, frame: pd.DataFrame) -> None:
        params = self.params
        needed = [params.column]
        if params.atr:
            needed += ["high", "low"]
        if params.obv:
            needed += ["volume"]
        self.require(frame, needed)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        params = self.params
        self._required(frame)
        price = frame[params.column].astype(float)
        ma_long = price.rolling(params.ma_long, min_periods=params.ma_long).mean()
        ema_fast, ema_slow = ema(price, params.ema_fast), ema(price, params.ema_slow)
        band_mean = price.rolling(params.bollinger_window, min_periods=params.bollinger_window).mean()
        band_sd = rolling_std(price, params.bollinger_window)
        lagged = price.shift(params.momentum_days)
        columns = {
            f"ma{params.ma_short}": price.rolling(params.ma_short, min_periods=params.ma_short).mean(),
            f"ma{params.ma_long}": ma_long,
            f"ema{params.ema_fast}": ema_fast,
            f"ema{params.ema_slow}": ema_slow,
            "macd": ema_fast - ema_slow,
            f"sd{params.std_window}": rolling_std(price, params.std_window),
            "bb_upper": band_mean + params.bollinger_sd * band_sd,
            "bb_lower": band_mean - params.bollinger_sd * band_sd,
            "ema_com": price.ewm(com=params.ema_com, adjust=False, min_periods=2).mean(),
            f"momentum{params.momentum_days}": price - lagged,
            f"log_momentum{params.momentum_days}": np.log(price / lagged),
        }
        if params.rsi:
            columns[f"rsi{params.rsi_window}"] = rsi(price, params.rsi_window)
        if params.atr:
            columns[f"atr{params.atr_window}"] = average_true_range(
                frame["high"].astype(float), frame["low"].astype(float), price, params.atr_window
            )
        if params.obv:
            columns["obv"] = on_balance_volume(price, frame["volume"].astype(float))
        return pd.DataFrame({self.column(k): v for k, v in columns.items()}, index=frame.index)
