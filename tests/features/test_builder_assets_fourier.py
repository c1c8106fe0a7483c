"""Correlated assets and causal Fourier trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.data.panel import Panel
from gan_trader.errors import FeatureError
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.features.fourier import endpoint_weights, lowpass_reconstruction


def test_assets_closes_and_log_returns(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    output = create_builder("assets", {}, real_context).fit_transform(short_frame, short_frame.index[200])
    assert len(output.columns) == 2 * len(real_context.asset_columns)
    jpm = short_frame["JPM.close"]
    assert output["assets.JPM.close"].equals(jpm)
    assert np.allclose(output["assets.JPM.log_return"], np.log(jpm / jpm.shift(1)), equal_nan=True)
    assert np.isnan(output["assets.JPM.log_return"].iloc[0])


def test_assets_subset_and_unknown(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    subset = create_builder("assets", {"assets": ["JPM", "WTI.close"], "closes": False}, real_context)
    output = subset.fit_transform(short_frame, short_frame.index[200])
    assert list(output.columns) == ["assets.JPM.log_return", "assets.WTI.log_return"]
    unknown = create_builder("assets", {"assets": ["NOPE"]}, real_context)
    with pytest.raises(FeatureError, match=r"features\.builders\.assets\.assets: unknown asset 'NOPE'"):
        unknown.fit(short_frame, short_frame.index[200])


def test_fourier_fast_path_equals_the_explicit_window_fft(
    real_panel: Panel, real_context: BuildContext
) -> None:
    frame = real_panel.frame.iloc[:600]
    builder = create_builder("fourier", {"window": 128, "components": [3, 9, 40]}, real_context)
    output = builder.fit_transform(frame, frame.index[300])
    close = frame["close"].to_numpy(float)
    for t in (127, 300, 599):
        window = close[t - 127 : t + 1]
        for k in (3, 9, 40):
            explicit = lowpass_reconstruction(window, k)[0, -1]
            assert output[f"fourier.trend{k}"].iloc[t] == pytest.approx(explicit, rel=1e-10)
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
