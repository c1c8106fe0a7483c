"""Anomaly score: an autoencoder's reconstruction error on an auxiliary series, trained on training rows.

The original ran "deep unsupervised anomaly detection" on an option-price series it never published. This is
the general form: any configured columns (an implied-volatility or option series if the user has one), by
default the asset panel (the target and every correlated asset), read as daily log returns (`representation:
stationary`, the default; a monthly series as its latest change) or as levels (`level`). An autoencoder
learns what ordinary training days look like; a day it reconstructs badly scores high. Row t's score uses the
inputs of row t only (a log return uses rows t-1 and t), and the scaler and network see training rows only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator

from gan_trader.features.assets import is_panel_asset_column, panel_log_returns
from gan_trader.features.autoencoder import ScaledInputs, TrainingSettings, check_widths, train_autoencoder
from gan_trader.features.base import Artifact, FeatureBuilder, RepresentationParams


class AnomalyParams(RepresentationParams):
    """`columns`: the auxiliary series (default: the target close and every panel asset close)."""

    columns: list[str] | None = None
    hidden: list[int] = Field(default_factory=lambda: [16], max_length=8)
    latent: int = Field(4, ge=1, le=1024)
    epochs: int = Field(30, ge=1, le=10_000)
    batch_size: int = Field(256, ge=2, le=1_000_000)
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)

    _positive_widths = field_validator("hidden")(check_widths)


class AnomalyScore(FeatureBuilder[AnomalyParams]):
    """`anomaly.score`: mean squared reconstruction error of the scaled inputs (0 = a typical day)."""

    name = "anomaly"
    Params = AnomalyParams

    def _series_columns(self, frame: pd.DataFrame) -> list[str]:
        params = self.params
        if params.columns is not None:
            self.require(frame, params.columns)
            return list(params.columns)
        assets = list(self.context.asset_columns) or [c for c in frame.columns if is_panel_asset_column(c)]
        columns = ["close", *assets]
        self.require(frame, columns)
        return columns

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        columns = self._series_columns(frame)
        if self.params.representation == "level":
            return frame[columns].astype(float)
        # A non-positive level has no log return: NaN marks the row as unscorable.
        series = frame[columns].astype(float)
        positive = series.where(series > 0)
        names = [c.removesuffix(".close") for c in columns]
        low = [c for c, name in zip(columns, names, strict=True) if name in self.context.low_frequency_assets]
        returns = np.log(positive / positive.shift(1))
        if low:  # a monthly series: its latest change, not a daily return that is 0 on most days
            changes = panel_log_returns(frame, low, self.context.low_frequency_assets)
            for column, change in zip(low, changes.columns[1:], strict=True):
                returns[column] = changes[change]
        return returns

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> AnomalyScore:
        params = self.params
        inputs = self._inputs(frame)
        self.inputs = ScaledInputs(self.name, list(inputs.columns))
        training = self.inputs.fit(self.training_rows(inputs, train_end))
        settings = TrainingSettings(
            params.hidden,
            params.latent,
            False,
            0.0,
            params.epochs,
            params.batch_size,
            params.learning_rate,
            0.0,
        )
        self.model, loss = train_autoencoder(training, settings, self.context.seed)
        train_scores = self._scores(training)
        self.artifacts = [
            Artifact(
                name="anomaly_training",
                metrics={
                    "anomaly/train_loss": loss,
                    "anomaly/train_score_p99": float(np.quantile(train_scores, 0.99)),
                },
            )
        ]
        return self

    def _scores(self, scaled: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            tensor = torch.as_tensor(scaled, dtype=torch.float32)
            reconstruction, _, _ = self.model(tensor)
            return ((reconstruction - tensor) ** 2).mean(dim=1).numpy().astype(float)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        scaled, complete = self.inputs.transform(self._inputs(frame))
        scores = self._scores(scaled)
        scores[~complete] = np.nan
        return pd.DataFrame({self.column("score"): scores}, index=frame.index)
