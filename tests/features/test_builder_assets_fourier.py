"""Correlated assets and causal Fourier trends."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gan_trader.data.panel import Panel
from gan_trader.errors import FeatureError
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.features.fourier import endpoint_weights, lowpass_reconstruction


def test_assets_log_returns_and_volatility(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    output = create_builder("assets", {}, real_context).fit_transform(short_frame, short_frame.index[200])
    assert len(output.columns) == 2 * len(real_context.asset_columns)
    jpm = short_frame["JPM.close"]
    returns = np.log(jpm / jpm.shift(1))
    assert np.allclose(output["assets.JPM.log_return"], returns, equal_nan=True)
    assert np.isnan(output["assets.JPM.log_return"].iloc[0])
    assert np.allclose(output["assets.JPM.vol20"], returns.rolling(20).std(), equal_nan=True)
    assert (
        output["assets.JPM.vol20"].iloc[:20].isna().all()
        and output["assets.JPM.vol20"].iloc[20:].notna().all()
    )
    level = create_builder("assets", {"representation": "level"}, real_context)
    closes = level.fit_transform(short_frame, short_frame.index[200])
    assert list(closes.columns) == [f"assets.{c}" for c in real_context.asset_columns]
    assert closes["assets.JPM.close"].equals(jpm)


def test_a_monthly_series_is_its_latest_change(real_panel: Panel, real_context: BuildContext) -> None:
    """A monthly series forward-filled onto trading days is 0 on most days as a daily return; its latest
    release-to-release change carries what it says, held until the next release."""
    frame = real_panel.frame.iloc[:400].copy()
    months = frame.index.to_period("M")
    cpi = pd.Series(100.0 * 1.002 ** (months - months[0]).map(lambda p: p.n), index=frame.index)
    frame["CPI.close"] = cpi.to_numpy()
    context = replace(
        real_context, asset_columns=(*real_context.asset_columns, "CPI.close"), low_frequency_assets=("CPI",)
    )
    output = create_builder("assets", {"assets": ["CPI", "JPM"]}, context).fit_transform(
        frame, frame.index[200]
    )
    assert list(output.columns) == ["assets.CPI.change", "assets.JPM.log_return", "assets.JPM.vol20"]
    change = output["assets.CPI.change"]
    first_month_end = int(np.flatnonzero(months != months[0])[0])
    assert change.iloc[:first_month_end].isna().all()
    assert np.allclose(change.iloc[first_month_end:], np.log(1.002))


def test_assets_subset_and_unknown(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    subset = create_builder("assets", {"assets": ["JPM", "WTI.close"]}, real_context)
    output = subset.fit_transform(short_frame, short_frame.index[200])
    assert list(output.columns) == [
        "assets.JPM.log_return",
        "assets.JPM.vol20",
        "assets.WTI.log_return",
        "assets.WTI.vol20",
    ]
    unknown = create_builder("assets", {"assets": ["NOPE"]}, real_context)
    with pytest.raises(FeatureError, match=r"features\.builders\.assets\.assets: unknown asset 'NOPE'"):
        unknown.fit(short_frame, short_frame.index[200])


def test_fourier_fast_path_equals_the_explicit_window_fft(
    real_panel: Panel, real_context: BuildContext
) -> None:
    frame = real_panel.frame.iloc[:600]
    params = {"window": 128, "components": [3, 9, 40], "representation": "level"}
    output = create_builder("fourier", params, real_context).fit_transform(frame, frame.index[300])
    ratios = create_builder("fourier", {**params, "representation": "stationary"}, real_context)
    stationary = ratios.fit_transform(frame, frame.index[300])
    close = frame["close"].to_numpy(float)
    for t in (127, 300, 599):
        window = close[t - 127 : t + 1]
        for k in (3, 9, 40):
            explicit = lowpass_reconstruction(window, k)[0, -1]
            assert output[f"fourier.trend{k}"].iloc[t] == pytest.approx(explicit, rel=1e-10)
            ratio = stationary[f"fourier.trend{k}_ratio"].iloc[t]
            assert ratio == pytest.approx(explicit / close[t] - 1, rel=1e-9, abs=1e-12)
    assert output.iloc[:127].isna().all().all(), "no value before a full window exists"
    assert output.iloc[127:].notna().all().all()


def test_fourier_reconstruction_properties() -> None:
    steps = np.arange(64, dtype=float)
    line = 3.0 + 0.5 * steps
    # A straight line is all trend: any number of components returns it exactly.
    assert np.allclose(lowpass_reconstruction(line, 1)[0], line)
    # Keeping every bin reconstructs the window exactly.
    noisy = line + np.random.default_rng(0).normal(size=64)
    assert np.allclose(lowpass_reconstruction(noisy, 64)[0], noisy)
    # Fewer components smooth more: the end point moves towards the trend line, and weights sum to 1.
    for k in (3, 9, 30):
        assert endpoint_weights(64, k).sum() == pytest.approx(1.0)
    smooth_gap = abs(lowpass_reconstruction(noisy, 3)[0, -1] - line[-1])
    assert smooth_gap < abs(noisy[-1] - line[-1]) + 1e-12


def test_fourier_has_no_wraparound_artefact() -> None:
    """On a smooth trending window the end point stays near the price; a plain FFT drags it back."""
    steps = np.arange(252, dtype=float)
    price = 50 + 0.2 * steps + 2 * np.sin(steps / 40)
    end = lowpass_reconstruction(price, 9)[0, -1]
    plain = np.fft.rfft(price)
    plain[9:] = 0
    plain_end = np.fft.irfft(plain, n=252)[-1]
    assert abs(end - price[-1]) < 0.5
    assert abs(plain_end - price[-1]) > 10 * abs(end - price[-1])


def test_fourier_needs_a_full_window_of_training_rows(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    builder = create_builder("fourier", {"window": 300}, real_context)
    with pytest.raises(FeatureError, match=r"features\.builders\.fourier\.window: needs 300 rows"):
        builder.fit(short_frame, short_frame.index[200])
