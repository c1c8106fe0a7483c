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
    params = {"rsi": True, "atr": True, "obv": True, "representation": "level"}
    builder = create_builder("technical", params, real_context)
    return builder.fit_transform(real_panel.frame, real_train_end)


@pytest.fixture(scope="module")
def stationary(real_panel: Panel, real_context: BuildContext, real_train_end: pd.Timestamp) -> pd.DataFrame:
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


def test_stationary_form_is_the_level_form_over_the_close(
    indicators: pd.DataFrame, stationary: pd.DataFrame, real_panel: Panel
) -> None:
    """Each stationary indicator is its level form divided by the day's close (or a log ratio / position)."""
    close = real_panel.frame["close"]
    level = indicators
    expected = {
        "technical.ma7_ratio": level["technical.ma7"] / close - 1,
        "technical.ema26_ratio": level["technical.ema26"] / close - 1,
        "technical.macd_ratio": level["technical.macd"] / close,
        "technical.sd20_ratio": level["technical.sd20"] / close,
        "technical.bb_width": (level["technical.bb_upper"] - level["technical.bb_lower"]) / close,
        "technical.bb_position": (close - (level["technical.bb_upper"] + level["technical.bb_lower"]) / 2)
        / ((level["technical.bb_upper"] - level["technical.bb_lower"]) / 2),
        "technical.momentum10": level["technical.log_momentum10"],
        "technical.rsi14": level["technical.rsi14"] / 100,
        "technical.atr14_ratio": level["technical.atr14"] / close,
    }
    for column, values in expected.items():
        assert np.allclose(stationary[column], values, equal_nan=True, rtol=1e-9, atol=1e-12), column
    # OBV's flow over 20 days: its change over the volume traded in them, always within [-1, 1].
    volume = real_panel.frame["volume"]
    flow = (level["technical.obv"] - level["technical.obv"].shift(20)) / volume.rolling(20).sum()
    assert np.allclose(stationary["technical.obv_flow20"].iloc[30:], flow.iloc[30:], rtol=1e-9)
    assert stationary["technical.obv_flow20"].abs().max() <= 1.0
    assert not any(c in stationary for c in ("technical.ma7", "technical.obv", "technical.bb_upper"))


def test_optional_indicators_without_their_columns_are_left_out_with_a_note(
    real_panel: Panel, real_context: BuildContext
) -> None:
    close_only = real_panel.frame[["close"]]
    builder = create_builder("technical", {"atr": True, "obv": True, "rsi": True}, real_context)
    output = builder.fit_transform(close_only, close_only.index[-1])
    assert not [c for c in output.columns if "atr" in c or "obv" in c]
    assert "technical.rsi14" in output
    assert builder.notes == [
        "technical: atr left out: the target's file has no High/Low columns",
        "technical: obv left out: the target's file has no Volume column",
    ]
    plain = create_builder("technical", {}, real_context).fit_transform(close_only, close_only.index[-1])
    assert "technical.rsi14" not in plain and len(plain.columns) == 10


def test_too_few_rows_names_the_window(real_panel: Panel, real_context: BuildContext) -> None:
    frame = real_panel.frame.iloc[:20]
    with pytest.raises(FeatureError, match=r"features\.builders\.technical\.ema_slow: needs 26 rows"):
        create_builder("technical", {}, real_context).fit(frame, frame.index[-1])
