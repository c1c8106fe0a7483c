"""Causal Fourier trends: low-pass reconstructions of the price on a trailing window ending at day t.

The original took one FFT of the whole series and fed its reconstructions back as features, so every value
depended on prices years ahead. Here the value at t is the last point of the reconstruction of the window
(t - window + 1 .. t) alone:

1. remove the window's least-squares line (the reconstruction adds it back);
2. extend the residual by its mirror image, so the periodic signal the FFT assumes has no jump at t (a plain
   periodic FFT wraps the window's last value onto its first, and the low-pass smears that jump into the
   very point we keep: the end-point artefact). This is the DCT-II, i.e. a cosine basis;
3. keep the `k` lowest-frequency bins of its real FFT (bin 0 is the mean: `k` components as in the
   original's `fft[k:-k] = 0`), invert, and read the point at t.

`representation: stationary` (the default) gives each trend as trend / close - 1 (how far the smooth trend
lies from the day's close); `level` gives the trend itself, as the article did.

Each step is linear in the window, so the whole procedure is one fixed weight vector per `k`: it is computed
once by running the procedure on unit vectors and applied as a trailing dot product (linear in the number of
days). Rows before a full window exists are NaN (warm-up, dropped by the pipeline); no expanding or padded
window is used there, so every defined value has the same meaning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from gan_trader.errors import FeatureError
from gan_trader.features.base import FeatureBuilder, RepresentationParams


class FourierParams(RepresentationParams):
    """`window`: trading days per trailing window; `components`: how many low-frequency bins to keep."""

    # Defaults are validated too: a changed short window must still be checked against the default long one.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    column: str = "close"
    window: int = Field(252, ge=8, le=5000)
    components: list[int] = Field(default_factory=lambda: [3, 6, 9, 100], min_length=1)

    @field_validator("components")
    @classmethod
    def _components_fit(cls, components: list[int], info: ValidationInfo) -> list[int]:
        window = info.data.get("window")
        for k in components:
            if k < 1 or (window is not None and k > window):
                raise ValueError(f"{k} must lie between 1 and window ({window})")
        if len(set(components)) != len(components):
            raise ValueError(f"values must be distinct, got {components}")
        return components


def lowpass_reconstruction(windows: np.ndarray, components: int) -> np.ndarray:
    """Detrended, mirror-extended low-pass reconstruction of each row of `windows` (shape: n x L)."""
    windows = np.atleast_2d(np.asarray(windows, float))
    length = windows.shape[1]
    steps = np.arange(length, dtype=float)
    slope, intercept = np.polynomial.polynomial.polyfit(steps, windows.T, 1)[::-1]
    trend = slope[:, None] * steps + intercept[:, None]
    residual = windows - trend
    mirrored = np.concatenate([residual, residual[:, ::-1]], axis=1)
    spectrum = np.fft.rfft(mirrored, axis=1)
    spectrum[:, components:] = 0.0
    smooth = np.fft.irfft(spectrum, n=2 * length, axis=1)[:, :length]
    return smooth + trend


def endpoint_weights(length: int, components: int) -> np.ndarray:
    """Weights w with reconstruction(window)[-1] == window @ w (the procedure is linear in the window)."""
    return lowpass_reconstruction(np.eye(length), components)[:, -1]


class FourierTrends(FeatureBuilder[FourierParams]):
    """Trend features at several smoothness levels, each from the trailing window only."""

    name = "fourier"
    Params = FourierParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> FourierTrends:
        params = self.params
        self.require(frame, [params.column])
        rows = len(self.training_rows(frame, train_end))
        if rows < params.window:
            raise FeatureError(
                f"features.builders.{self.name}.window: needs {params.window} rows, "
                f"the training span has {rows}"
            )
        self.weights = {k: endpoint_weights(params.window, k) for k in params.components}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        params = self.params
        self.require(frame, [params.column])
        price = frame[params.column].to_numpy(float)
        output = {}
        for k, weights in self.weights.items():
            values = np.full(len(price), np.nan)
            if len(price) >= params.window:
                values[params.window - 1 :] = sliding_window_view(price, params.window) @ weights
            if params.representation == "level":
                output[self.column(f"trend{k}")] = values
            else:
                output[self.column(f"trend{k}_ratio")] = values / price - 1.0
        return pd.DataFrame(output, index=frame.index)
