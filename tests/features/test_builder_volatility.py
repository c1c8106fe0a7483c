"""The volatility builder: range-based variances by hand, HAR averages, market volatility, GARCH, bad
input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gan_trader.errors import ConfigError, FeatureError
from gan_trader.features.base import BuildContext, create_builder


def ohlc_days() -> pd.DataFrame:
    """Three days with known ranges, then quiet days to fill the HAR windows."""
    index = pd.bdate_range("2020-01-01", periods=40, name="date")
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(0.01 * rng.normal(size=40)))
    frame = pd.DataFrame(
        {"open": close * 0.999, "high": close * 1.01, "low": close * 0.99, "close": close}, index=index
    )
    frame.iloc[30] = [100.0, 110.0, 95.0, 105.0]  # a wide day
    return frame


def test_parkinson_and_garman_klass_by_hand() -> None:
    frame = ohlc_days()
    context = BuildContext(target="X")
    builder = create_builder("volatility", {"market_windows": [], "ewma_halflives": [10]}, context)
    output = builder.fit_transform(frame, frame.index[35])
    hl, co = math.log(110 / 95), math.log(105 / 100)
    parkinson = hl**2 / (4 * math.log(2))
    garman_klass = 0.5 * hl**2 - (2 * math.log(2) - 1) * co**2
    assert output["volatility.log_parkinson_1d"].iloc[30] == pytest.approx(math.log(parkinson), rel=1e-12)
    assert output["volatility.log_garman_klass_1d"].iloc[30] == pytest.approx(
        math.log(garman_klass), rel=1e-12
    )
    # The 5-day HAR average is the mean of the last five daily variances, then the log.
    daily = np.log(frame["high"] / frame["low"]) ** 2 / (4 * math.log(2))
    assert output["volatility.log_parkinson_5d"].iloc[32] == pytest.approx(
        math.log(daily.iloc[28:33].mean()), rel=1e-12
    )
    returns = np.log(frame["close"] / frame["close"].shift(1))
    assert output["volatility.abs_return_lag1"].iloc[31] == pytest.approx(abs(returns.iloc[30]))
    assert output["volatility.log_sq_return_lag0"].iloc[31] == pytest.approx(math.log(returns.iloc[31] ** 2))
    ewma = (returns**2).ewm(halflife=10.0, adjust=False, min_periods=20).mean()
    assert output["volatility.log_ewma_10d"].iloc[-1] == pytest.approx(math.log(ewma.iloc[-1]), rel=1e-12)
    assert output["volatility.log_ewma_10d"].iloc[:19].isna().all()


def test_market_volatility_reads_the_equity_series(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    context = replace(real_context, equity_assets=("JPM", "BAC"))
    output = create_builder("volatility", {}, context).fit_transform(short_frame, short_frame.index[249])
    prices = short_frame[["JPM.close", "BAC.close"]]
    cross = np.log(prices / prices.shift(1)).abs().mean(axis=1)
    assert np.allclose(output["volatility.log_market_abs_return_1d"].iloc[1:], np.log(cross.iloc[1:]))
    assert np.allclose(
        output["volatility.log_market_abs_return_5d"].iloc[5:], np.log(cross.rolling(5).mean().iloc[5:])
    )
    one = create_builder("volatility", {"market": ["WTI"]}, context)
    explicit = one.fit_transform(short_frame, short_frame.index[249])
    wti = np.log(short_frame["WTI.close"] / short_frame["WTI.close"].shift(1)).abs()
    floored = np.maximum(wti.iloc[1:], one.floors["market_abs_return_1d"])  # forward-filled holidays: 0
    assert np.allclose(explicit["volatility.log_market_abs_return_1d"].iloc[1:], np.log(floored))


def test_close_only_and_no_equities_get_what_they_support_with_one_note_each() -> None:
    frame = ohlc_days()[["close"]]
    builder = create_builder("volatility", {"ewma_halflives": [10]}, BuildContext(target="X"))
    output = builder.fit_transform(frame, frame.index[35])
    assert not [c for c in output.columns if "parkinson" in c or "garman" in c or "market" in c]
    assert {"volatility.log_sq_return_5d", "volatility.abs_return_lag0", "volatility.log_ewma_10d"} <= set(
        output.columns
    )
    assert builder.notes == [
        "volatility: parkinson left out: the target's file has no High/Low columns",
        "volatility: garman_klass left out: the target's file has no High/Low columns",
        "volatility: market volatility left out: the panel has no other equity series",
    ]


def test_a_day_without_range_is_floored_not_minus_infinity() -> None:
    frame = ohlc_days()
    frame.iloc[33, [1, 2]] = frame.iloc[33, 3]  # high == low == close: zero range
    params = {"market_windows": [], "ewma_halflives": [10]}
    builder = create_builder("volatility", params, BuildContext(target="X"))
    output = builder.fit_transform(frame, frame.index[35])
    value = output["volatility.log_parkinson_1d"].iloc[33]
    assert np.isfinite(value)
    assert value == pytest.approx(math.log(builder.floors["parkinson_1d"]))
    assert value < output["volatility.log_parkinson_1d"].drop(index=frame.index[33]).min()


def test_garch_member_uses_training_parameters(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    builder = create_builder("volatility", {"garch": True}, real_context)
    output = builder.fit_transform(short_frame, short_frame.index[249])
    garch = output["volatility.log_garch_variance"]
    assert garch.iloc[:75].isna().all() and garch.iloc[76:].notna().all()
    # Higher squared returns today raise tomorrow's variance: the filter reacts to the shock.
    shocked = short_frame.copy()
    shocked.iloc[300:, shocked.columns.get_loc("close")] *= 0.8
    other = builder.transform(shocked)["volatility.log_garch_variance"]
    assert np.allclose(garch.iloc[:300], other.iloc[:300], equal_nan=True)
    assert other.iloc[300] > garch.iloc[300] + 0.5


def test_parameters_are_validated() -> None:
    context = BuildContext(target="X")
    with pytest.raises(ConfigError, match=r"features\.builders\.volatility\.har_windows"):
        create_builder("volatility", {"har_windows": [5, 5]}, context)
    with pytest.raises(ConfigError, match=r"features\.builders\.volatility\.range_estimators"):
        create_builder("volatility", {"range_estimators": ["rogers"]}, context)
    frame = ohlc_days()
    with pytest.raises(FeatureError, match=r"features\.builders\.volatility\.market: 'NOPE'"):
        create_builder("volatility", {"market": ["NOPE"]}, context).fit(frame, frame.index[35])
    with pytest.raises(FeatureError, match=r"'ewma_40d' is undefined on every training row"):
        create_builder("volatility", {}, context).fit(frame, frame.index[35])
