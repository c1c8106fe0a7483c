"""Stacked autoencoder / VAE features (GELU), trained on the training rows only.

Inputs are the builder's columns at row t, scaled by a scaler fitted on training rows. With `representation:
stationary` (the default) they are stationary only: the earlier builders' stationary columns and the daily
log returns of the panel's closes (target and assets), never a raw price or volume, whose test-day values
would lie far outside anything the network saw; `level` reads every column it sees, as the article did.
Explicit `columns` are read as given. The features of row t are the encoder's means for that row alone, so
they use rows <= t exactly when the inputs do. The original
trained its autoencoder on every row (look-ahead) and read "higher-level" features by dropping the decoder's
last layer: `features_from: decoder` gives that reading (the last hidden decoder layer).

Training is deterministic for a given `context.seed`: weights are initialised under a forked, seeded RNG (the
global RNG is left as it was), batches and VAE noise are drawn from a seeded `torch.Generator`, and training
runs with deterministic algorithms on one CPU thread (see `deterministic_torch`). The first training in a
process pays a one-time import of torch's compiler stack (torch.optim and use_deterministic_algorithms both
pull it in), shared with every later torch model in the process. The torch pieces (`StackedAutoencoder`,
`train_autoencoder`) are shared with the anomaly builder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator
from sklearn.preprocessing import StandardScaler
from torch import nn

from gan_trader.errors import FeatureError
from gan_trader.features.assets import is_panel_asset_column, panel_log_returns
from gan_trader.features.base import (
    Artifact,
    FeatureBuilder,
    RepresentationParams,
    one_blas_thread,
)

MIN_TRAINING_ROWS = 20


class StackedAutoencoder(nn.Module):
    """Dense encoder (GELU) -> latent mean (and log-variance for a VAE) -> mirrored dense decoder."""

    def __init__(self, n_inputs: int, hidden: list[int], latent: int, variational: bool) -> None:
        super().__init__()
        widths = [n_inputs, *hidden]
        encoder: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [nn.Linear(width_in, width_out), nn.GELU()]
        self.encoder = nn.Sequential(*encoder)
        self.mean = nn.Linear(widths[-1], latent)
        self.log_var = nn.Linear(widths[-1], latent) if variational else None
        decoder: list[nn.Module] = []
        for width_in, width_out in zip([latent, *widths[::-1][:-2]], widths[::-1][:-1], strict=True):
            decoder += [nn.Linear(width_in, width_out), nn.GELU()]
        self.decoder_hidden = nn.Sequential(*decoder)
        self.output = nn.Linear(widths[1] if hidden else latent, n_inputs)

    def encode(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden = self.encoder(inputs)
        return self.mean(hidden), (self.log_var(hidden) if self.log_var is not None else None)

    def decode_hidden(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder_hidden(latent)

    def forward(
        self, inputs: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        mean, log_var = self.encode(inputs)
        latent = mean
        if log_var is not None and self.training:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
            latent = mean + noise * torch.exp(0.5 * log_var)
        return self.output(self.decode_hidden(latent)), mean, log_var


@dataclass(frozen=True)
class TrainingSettings:
    hidden: list[int]
    latent: int
    variational: bool
    beta: float
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float


@contextlib.contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """Seed torch's RNG, require deterministic kernels and use one thread inside the block; restore all three.

    One thread because these networks are tiny: synchronising intra-op threads costs more than they save
    (docs/performance.md).
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]), one_blas_thread():
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(was_deterministic)


def train_autoencoder(
    inputs: np.ndarray, settings: TrainingSettings, seed: int
) -> tuple[StackedAutoencoder, float]:
    """Train on `inputs` (rows x columns, already scaled); return the model in eval mode and its last loss."""
    data = torch.as_tensor(inputs, dtype=torch.float32)
    with deterministic_torch(seed):
        model = StackedAutoencoder(data.shape[1], settings.hidden, settings.latent, settings.variational)
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(
            model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        model.train()
        epoch_loss = float("nan")
        for _epoch in range(settings.epochs):
            order = torch.randperm(len(data), generator=generator)
            total = 0.0
            for start in range(0, len(data), settings.batch_size):
                batch = data[order[start : start + settings.batch_size]]
                reconstruction, mean, log_var = model(batch, generator)
                loss = torch.mean((reconstruction - batch) ** 2)
                if log_var is not None:
                    kl = -0.5 * torch.mean(torch.sum(1 + log_var - mean**2 - log_var.exp(), dim=1))
                    loss = loss + settings.beta * kl / data.shape[1]
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            epoch_loss = total / len(data)
    model.eval()
    return model, epoch_loss


def check_widths(hidden: list[int]) -> list[int]:
    """Validator of hidden-layer widths (shared by the autoencoder and anomaly parameters)."""
    if any(width < 1 or width > 100_000 for width in hidden):
        raise ValueError(f"layer widths must lie between 1 and 100000, got {hidden}")
    return hidden


class AutoencoderParams(RepresentationParams):
    """`columns`: inputs (default: the stationary inputs it sees; with `level`, every column it sees)."""

    columns: list[str] | None = None
    hidden: list[int] = Field(default_factory=lambda: [64, 32], max_length=8)
    latent: int = Field(8, ge=1, le=1024)
    variational: bool = False
    beta: float = Field(1.0, ge=0.0, description="KL weight of the VAE")
    epochs: int = Field(30, ge=1, le=10_000)
    batch_size: int = Field(256, ge=2, le=1_000_000)
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    features_from: Literal["encoder", "decoder"] = "encoder"

    _positive_widths = field_validator("hidden")(check_widths)

    def settings(self) -> TrainingSettings:
        return TrainingSettings(
            self.hidden,
            self.latent,
            self.variational,
            self.beta,
            self.epochs,
            self.batch_size,
            self.learning_rate,
            self.weight_decay,
        )


def stationary_inputs(builder: FeatureBuilder[Any], frame: pd.DataFrame) -> pd.DataFrame:
    """The earlier builders' stationary columns beside the daily log returns of the panel's closes."""
    context = builder.context
    assets = list(context.asset_columns) or [c for c in frame.columns if is_panel_asset_column(c)]
    returns = panel_log_returns(
        frame, [c for c in assets if c in frame.columns], context.low_frequency_assets
    )
    returns.columns = [f"panel.{c}" for c in returns.columns]
    return pd.concat([returns, frame[builder.stationary_columns(frame)]], axis=1)


class ScaledInputs:
    """A scaler fitted on the complete training rows; rows with a missing input stay missing."""

    def __init__(self, builder: str, columns: list[str]) -> None:
        self.builder = builder
        self.columns = columns
        self.scaler = StandardScaler()

    def fit(self, training: pd.DataFrame) -> np.ndarray:
        values = training[self.columns].to_numpy(float)
        complete = np.isfinite(values).all(axis=1)
        if complete.sum() < MIN_TRAINING_ROWS:
            raise FeatureError(
                f"features.builders.{self.builder}.columns: {int(complete.sum())} training rows have every "
                f"input defined, fewer than the {MIN_TRAINING_ROWS} needed"
            )
        return self.scaler.fit_transform(values[complete])

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Scaled inputs (missing rows filled with 0 for the network) and the mask of complete rows."""
        values = frame[self.columns].to_numpy(float)
        complete = np.isfinite(values).all(axis=1)
        scaled = np.zeros_like(values)
        if complete.any():
            scaled[complete] = self.scaler.transform(values[complete])
        return scaled, complete


class AutoencoderFeatures(FeatureBuilder[AutoencoderParams]):
    """Compressed representation of the features built so far (the original's "stacked autoencoder")."""

    name = "autoencoder"
    Params = AutoencoderParams

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        params = self.params
        if params.columns is not None:
            self.require(frame, params.columns)
            return frame[list(params.columns)]
        if params.representation == "level":
            return frame[[c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]]
        return stationary_inputs(self, frame)

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> AutoencoderFeatures:
        inputs = self._inputs(frame)
        self.inputs = ScaledInputs(self.name, list(inputs.columns))
        training = self.inputs.fit(self.training_rows(inputs, train_end))
        self.model, loss = train_autoencoder(training, self.params.settings(), self.context.seed)
        self.artifacts = [Artifact(name="autoencoder_training", metrics={"autoencoder/train_loss": loss})]
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        inputs = self._inputs(frame)
        self.require(inputs, self.inputs.columns)
        scaled, complete = self.inputs.transform(inputs)
        with torch.no_grad():
            mean, _ = self.model.encode(torch.as_tensor(scaled, dtype=torch.float32))
            values = self.model.decode_hidden(mean) if self.params.features_from == "decoder" else mean
        output = values.numpy().astype(float)
        output[~complete] = np.nan
        prefix = "h" if self.params.features_from == "decoder" else "z"
        columns = [self.column(f"{prefix}{i}") for i in range(output.shape[1])]
        return pd.DataFrame(output, index=frame.index, columns=columns)
