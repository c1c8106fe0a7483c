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

`representation: stationary` (the default) gives every indicator in a form whose range does not move with the
price (qlib's Alpha158 convention): moving averages and EMAs as MA / close - 1, MACD / close, the standard
deviation / close, Bollinger position (close - mid) / (k sd) and width (upper - lower) / close, EMA(com) /
close - 1, momentum as the log return over n days, RSI / 100, ATR / close, and OBV as a rolling-normalised
flow (the signed volume of the last `obv_window` days over their total volume, in [-1, 1]). `level` gives the
article's price levels. ATR and OBV need high / low / volume: without them (a close-only file) they are left
out with one logged line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from scipy.signal import lfilter

from gan_trader.errors import FeatureError
from gan_trader.features.base import FeatureBuilder, RepresentationParams


class TechnicalParams(RepresentationParams):
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
    obv_window: int = Field(20, ge=2, le=1000, description="days of the stationary OBV flow")

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
        if self.obv and self.representation == "stationary":
            used["obv_window"] = self.obv_window + 1
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


def obv_flow(close: pd.Series, volume: pd.Series, window: int) -> pd.Series:
    """OBV's change over `window` days divided by the volume traded in them: the share of that volume on
    up days minus the share on down days, in [-1, 1] whatever the stock's turnover."""
    signed = pd.Series(np.where(close < close.shift(1), -volume, volume), index=close.index)
    signed[close.shift(1).isna()] = np.nan  # the first day has no direction
    total = volume.rolling(window, min_periods=window).sum()
    return signed.rolling(window, min_periods=window).sum() / total.where(total > 0)


class TechnicalIndicators(FeatureBuilder[TechnicalParams]):
    """The original's twelve indicators on the target's price, with momentum made a real momentum."""

    name = "technical"
    Params = TechnicalParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> TechnicalIndicators:
        self.require(frame, [self.params.column])
        self._members(frame)
        rows = len(self.training_rows(frame, train_end))
        key, longest = max(self.params.windows().items(), key=lambda item: item[1])
        if rows < longest:
            raise FeatureError(
                f"features.builders.{self.name}.{key}: needs {longest} rows, the training span has {rows}"
            )
        return self

    def _members(self, frame: pd.DataFrame) -> tuple[bool, bool]:
        """Whether ATR and OBV are built: asked for, and the data has what they need (else one note)."""
        params = self.params
        atr = params.atr and {"high", "low"} <= set(frame.columns)
        obv = params.obv and "volume" in frame.columns
        if params.atr and not atr:
            self.note("atr left out: the target's file has no High/Low columns")
        if params.obv and not obv:
            self.note("obv left out: the target's file has no Volume column")
        return atr, obv

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        params = self.params
        self.require(frame, [params.column])
        use_atr, use_obv = self._members(frame)
        price = frame[params.column].astype(float)
        ma_short = price.rolling(params.ma_short, min_periods=params.ma_short).mean()
        ma_long = price.rolling(params.ma_long, min_periods=params.ma_long).mean()
        ema_fast, ema_slow = ema(price, params.ema_fast), ema(price, params.ema_slow)
        band_mean = price.rolling(params.bollinger_window, min_periods=params.bollinger_window).mean()
        band_sd = rolling_std(price, params.bollinger_window)
        ema_com = price.ewm(com=params.ema_com, adjust=False, min_periods=2).mean()
        std = rolling_std(price, params.std_window)
        lagged = price.shift(params.momentum_days)
        atr = (
            average_true_range(
                frame["high"].astype(float), frame["low"].astype(float), price, params.atr_window
            )
            if use_atr
            else None
        )
        volume = frame["volume"].astype(float) if use_obv else None
        if params.representation == "level":
            columns = {
                f"ma{params.ma_short}": ma_short,
                f"ma{params.ma_long}": ma_long,
                f"ema{params.ema_fast}": ema_fast,
                f"ema{params.ema_slow}": ema_slow,
                "macd": ema_fast - ema_slow,
                f"sd{params.std_window}": std,
                "bb_upper": band_mean + params.bollinger_sd * band_sd,
                "bb_lower": band_mean - params.bollinger_sd * band_sd,
                "ema_com": ema_com,
                f"momentum{params.momentum_days}": price - lagged,
                f"log_momentum{params.momentum_days}": np.log(price / lagged),
            }
            if params.rsi:
                columns[f"rsi{params.rsi_window}"] = rsi(price, params.rsi_window)
            if atr is not None:
                columns[f"atr{params.atr_window}"] = atr
            if volume is not None:
                columns["obv"] = on_balance_volume(price, volume)
        else:
            columns = {
                f"ma{params.ma_short}_ratio": ma_short / price - 1.0,
                f"ma{params.ma_long}_ratio": ma_long / price - 1.0,
                f"ema{params.ema_fast}_ratio": ema_fast / price - 1.0,
                f"ema{params.ema_slow}_ratio": ema_slow / price - 1.0,
                "macd_ratio": (ema_fast - ema_slow) / price,
                f"sd{params.std_window}_ratio": std / price,
                # Where the close sits in the band, in units of the band's half-width (k sd).
                "bb_position": (price - band_mean) / (params.bollinger_sd * band_sd).where(band_sd > 0),
                "bb_width": 2.0 * params.bollinger_sd * band_sd / price,
                "ema_com_ratio": ema_com / price - 1.0,
                f"momentum{params.momentum_days}": np.log(price / lagged),
            }
            if params.rsi:
                columns[f"rsi{params.rsi_window}"] = rsi(price, params.rsi_window) / 100.0
            if atr is not None:
                columns[f"atr{params.atr_window}_ratio"] = atr / price
            if volume is not None:
                columns[f"obv_flow{params.obv_window}"] = obv_flow(price, volume, params.obv_window)
        return pd.DataFrame({self.column(k): v for k, v in columns.items()}, index=frame.index)
