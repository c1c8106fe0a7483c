"""The reference notes' price LSTM: LSTM 64 -> LSTM 64 -> dense 32 -> dense 1 on min-max scaled closes.

The scaler is fitted on training closes only, so test prices above the training range scale above 1 (the
honest situation the notes' version hid by fitting the scaler on all rows). Forecasts are price levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines._training import fit_regressor, predict_batches, seeded_fitting


class PriceLSTMNet(nn.Module):
    """Two stacked LSTM(64) layers, dense 32 (ReLU), dense 1."""

    def __init__(self, hidden: int = 64, dense: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, dense), nn.ReLU(), nn.Linear(dense, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


class PriceLSTM(Forecaster):
    """Next-day close from the last `window` scaled closes."""

    name = "price_lstm"
    uses_validation = True

    def __init__(
        self,
        seed: int = 0,
        window: int = 30,
        epochs: int = 6,
        batch_size: int = 128,
        lr: float = 2e-3,
        patience: int = 2,
    ) -> None:
        self.seed = seed
        self.window = window
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.low = self.high = 0.0
        self.net: PriceLSTMNet | None = None
        self.history: list[dict[str, float]] = []

    def _scaled(self, task: ForecastTask) -> np.ndarray:
        return (task.close.to_numpy(dtype=float) - self.low) / (self.high - self.low)

    def _windows(self, task: ForecastTask, origins: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Windows of scaled closes ending at each origin, and the scaled next close (NaN when unknown)."""
        scaled = self._scaled(task)
        positions = task.close.index.get_indexer(origins)
        if (positions < self.window - 1).any():
            first = origins[positions < self.window - 1][0]
            raise TrainingError(
                f"price_lstm: origin {first.date()} has fewer than {self.window} days before it"
            )
        index = positions[:, None] + np.arange(-self.window + 1, 1)[None, :]
        following = np.append(scaled, np.nan)[positions + 1]
        return scaled[index][..., None], following

    def _usable(self, task: ForecastTask, span: str) -> pd.DatetimeIndex:
        origins = task.origins(span)  # type: ignore[arg-type]
        return origins[task.close.index.get_indexer(origins) >= self.window - 1]

    def fit(self, task: ForecastTask) -> PriceLSTM:
        train_close = task.close.loc[: task.split.train_end].to_numpy(dtype=float)
        self.low, self.high = float(train_close.min()), float(train_close.max())
        if self.high <= self.low:
            raise TrainingError("price_lstm: the training closes are constant")
        train, val = self._usable(task, "train"), self._usable(task, "val")
        if len(train) < 10:
            raise TrainingError(
                f"price_lstm: {len(train)} training windows of {self.window} days are too few"
            )
        x_train, y_train = self._windows(task, train)
        x_val, y_val = self._windows(task, val)
        with seeded_fitting(self.seed) as generator:
            self.net = PriceLSTMNet()
            self.history = fit_regressor(
                self.net,
                x_train,
                y_train,
                x_val,
                y_val,
                generator=generator,
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                patience=self.patience,
            )
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.net is None:
            raise RuntimeError("PriceLSTM.predict called before fit")
        x, _ = self._windows(task, origins)
        price = predict_batches(self.net, x) * (self.high - self.low) + self.low
        forecast = Forecast.from_prices(self.name, task, origins, price)
        forecast.extra["history"] = self.history
        return forecast
