"""Technical indicators agree with the `ta` library on the bundled real MSFT data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta

from gan_trader.data.panel import Panel
from gan_trader.errors import FeatureError
from gan_trader.features.base import BuildContext, create_builder

TOLERANCE = 1e-8


@pytest.fixture(scope="module")
def indicators(real_panel: Panel, real_context: BuildContext, real_train_end: pd.Timestamp) -> pd.DataFrame:
    builder = create_builder("technical", {"rsi": True, "atr": True, "obv": True}, real_context)
    return builder.fit_transform(real_panel.frame, real_train_end)


def reference(frame: pd.DataFrame) -> dict[str, pd.Series]:
    close, high, low, volume = frame["close"], frame["high"], frame["low"], frame["volume"]
    return {
        "technical.ma7": ta.trend.sma_indicator(close, window=7),
        "technical.ma21": ta.trend.sma_indicator(close, window=21),
        "technical.ema12": ta.trend.ema_indicator(close, window=12),
        "technical.ema26": ta.trend.ema_indicator(close, window=26),
        "technical.macd": ta.trend.macd(close, window_slow=26, window_fast=12),
        # ta's Bollinger deviation is the population sd (ddof=0): band(window_dev=1) - mean = sd.
        "technical.sd20": ta.volatility.bollinger_hband(close, window=20, window_dev=1)
        - ta.volatility.bollinger_mavg(close, window=20),
        "technical.bb_upper": ta.volatility.bollinger_hband(close, window=21, window_dev=2),
        "technical.bb_lower": ta.volatility.bollinger_lband(close, window=21, window_dev=2),
        # EMA(com=0.5) has alpha 2/3, i.e. span 2.
        "technical.ema_com": ta.trend.ema_indicator(close, window=2),
        "technical.log_momentum10": np.log1p(ta.momentum.roc(close, window=10) / 100),
        "technical.rsi14": ta.momentum.rsi(close, window=14),
        "technical.atr14": ta.volatility.average_true_range(high, low, close, window=14),
        "technical.obv": ta.volume.on_balance_volume(close, volume),
    }


COLUMNS = [
    "technical.ma7",
    "technical.ma21",
    "technical.ema12",
    "technical.ema26",
    "technical.macd",
    "technical.sd20",
    "technical.bb_upper",
    "technical.bb_lower",
    "technical.ema_com",
    "technical.log_momentum10",
    "technical.rsi14",
    "technical.atr14",
    "technical.obv",
]


def test_every_indicator_is_checked(indicators: pd.DataFrame, real_panel: Panel) -> None:
    assert set(COLUMNS) == set(reference(real_panel.frame))
    assert set(indicators.columns) - set(COLUMNS) == {"technical.momentum10"}


@pytest.mark.parametrize("column", COLUMNS)
def test_agrees_with_ta(column: str, indicators: pd.DataFrame, real_panel: Panel) -> None:
    expected = reference(real_panel.frame)[column]
    ours = indicators[column]
    defined = ours.notna()
    if column == "technical.atr14":
        # ta writes 0 for warm-up rows; we leave them undefined.
        assert (expected[~defined] == 0).all()
    else:
        assert defined.equals(expected.notna()), "the same warm-up rows are undefined"
    assert defined.sum() > len(ours) - 30
    scale = np.maximum(1.0, expected[defined].abs())
    assert (np.abs(ours[defined] - expected[defined]) / scale).max() < TOLERANCE


def test_momentum_is_a_price_difference(indicators: pd.DataFrame, real_panel: Panel) -> None:
    close = real_panel.frame["close"]
    assert np.allclose(indicators["technical.momentum10"], close - close.shift(10), equal_nan=True)
    assert not np.allclose(indicators["technical.momentum10"].dropna(), (close - 1).iloc[10:])


def test_optional_indicators_need_their_columns(real_panel: Panel, real_context: BuildContext) -> None:
    close_only = real_panel.frame[["close"]]
    builder = create_builder("technical", {"atr": True}, real_context)
    with pytest.raises(FeatureError, match=r"features\.builders\.technical: needs column 'high'"):
        builder.fit(close_only, close_only.index[-1])
    builder = create_builder("technical", {"obv": True}, real_context)
    with pytest.raises(FeatureError, match="needs column 'volume'"):
        builder.fit(close_only, close_only.index[-1])
    plain = create_builder("technical", {}, real_context).fit_transform(close_only, close_only.index[-1])
    assert "technical.rsi14" not in plain and len(plain.columns) == 11


def test_too_few_rows_names_the_window(real_panel: Panel, real_context: BuildContext) -> None:
    frame = real_panel.frame.iloc[:20]
    with pytest.raises(FeatureError, match=r"features\.builders\.technical\.ema_slow: needs 26 rows"):
        create_builder("technical", {}, real_context).fit(frame, frame.index[-1])
