"""The reference notes' return LSTM: 30 days x 6 inputs -> the clipped forward return, traded long/flat.

Two registered horizons:
- `return_lstm`: trained on the next-day return, the horizon the leaderboard scores every model on, and
  traded with a 1-day hold;
- `return_lstm_5d`: the notes' own setup, trained on the 5-day return and traded with a 5-day hold. Its
  row on the 1-day leaderboard is the 5-day forecast spread evenly over the days (log(1 + R) / 5); compare
  its backtest, not its one-day errors.

Inputs per day: close, open, high, low, amount (= close x volume) and volume; each 30-day window is z-scored
on its own (per input), so no scaler is fitted at all. Target: close[t+h] / close[t] - 1 clipped to +-0.2 and
multiplied by 10 (h = 1 or 5 days). Network: an LSTM(128) with atan as its cell and output activation,
input dropout 0.2 and recurrent dropout 0.1, then dense 64 -> 16 -> 1, each with atan.

Recurrent dropout is implemented as Keras does it (Gal & Ghahramani's variational dropout): one mask per
sequence on the inputs and one on the previous hidden state h, fixed across the 30 steps, active in training
only. torch's nn.LSTM has no recurrent dropout, hence the explicit cell below.

One-day forecast for the common leaderboard: the predicted h-day return R = output / 10 as a daily rate,
log(1 + R) / h (its sign, the trading signal, is unchanged; for h = 1 it is the forecast itself). The
forecast carries `hold_days = h`, so the backtest trades it long/flat with an h-day hold;
`extra["signal"]` keeps R itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines._training import fit_regressor, predict_batches, seeded_fitting

INPUTS = ("close", "open", "high", "low", "amount", "volume")


class RecurrentDropoutLSTM(nn.Module):
    """One LSTM layer with a configurable activation and variational input / recurrent dropout."""

    def __init__(
        self, input_size: int, hidden: int, dropout: float = 0.2, recurrent_dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.input_gates = nn.Linear(input_size, 4 * hidden)
        self.hidden_gates = nn.Linear(hidden, 4 * hidden, bias=False)
        with torch.no_grad():  # forget-gate bias 1, as Keras' unit_forget_bias
            self.input_gates.bias.zero_()
            self.input_gates.bias[hidden : 2 * hidden] = 1.0

    def _mask(self, shape: tuple[int, int], rate: float, like: torch.Tensor) -> torch.Tensor | None:
        if not self.training or rate <= 0:
            return None
        keep = torch.bernoulli(torch.full(shape, 1.0 - rate, dtype=like.dtype))
        return keep / (1.0 - rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, steps, inputs) -> the last hidden state (batch, hidden)."""
        batch, steps, inputs = x.shape
        input_mask = self._mask((batch, inputs), self.dropout, x)
        hidden_mask = self._mask((batch, self.hidden), self.recurrent_dropout, x)
        h = x.new_zeros(batch, self.hidden)
        c = x.new_zeros(batch, self.hidden)
        # Input projections of all steps at once; only the recurrent part runs step by step.
        projected = self.input_gates(x if input_mask is None else x * input_mask[:, None, :])
        for step in range(steps):
            recurrent = self.hidden_gates(h if hidden_mask is None else h * hidden_mask)
            i, f, g, o = (projected[:, step] + recurrent).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.atan(g)
            h = torch.sigmoid(o) * torch.atan(c)
        return h


class ReturnLSTMNet(nn.Module):
    def __init__(
        self,
        inputs: int = len(INPUTS),
        hidden: int = 128,
        dropout: float = 0.2,
        recurrent_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.lstm = RecurrentDropoutLSTM(inputs, hidden, dropout, recurrent_dropout)
        self.dense1 = nn.Linear(hidden, 64)
        self.dense2 = nn.Linear(64, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lstm(x)
        return torch.atan(self.out(torch.atan(self.dense2(torch.atan(self.dense1(h))))))


class ReturnLSTM(Forecaster):
    """Next-day return signal from z-scored 30-day OHLCV windows (see the module docstring)."""

    name = "return_lstm"
    uses_validation = True
    default_horizon = 1

    def __init__(
        self,
        seed: int = 0,
        window: int = 30,
        horizon: int | None = None,
        clip: float = 0.2,
        scale: float = 10.0,
        epochs: int = 4,
        batch_size: int = 128,
        lr: float = 1e-3,
        patience: int = 2,
    ) -> None:
        self.seed = seed
        self.window = window
        self.horizon = horizon or self.default_horizon
        self.clip = clip
        self.scale = scale
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.net: ReturnLSTMNet | None = None
        self.history: list[dict[str, float]] = []

    def _inputs(self, task: ForecastTask) -> np.ndarray:
        frame = task.panel.frame.loc[task.features.index]
        missing = [c for c in ("open", "high", "low", "close", "volume") if c not in frame.columns]
        if missing:
            raise TrainingError(f"return_lstm: needs the target's OHLCV; column '{missing[0]}' is missing")
        columns = {
            name: frame[name].to_numpy(dtype=float) for name in ("close", "open", "high", "low", "volume")
        }
        columns["amount"] = columns["close"] * columns["volume"]
        return np.stack([columns[name] for name in INPUTS], axis=1)

    def _windows(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """Windows ending at each origin, each z-scored per input over its own 30 days."""
        positions = task.close.index.get_indexer(origins)
        if (positions < self.window - 1).any():
            first = origins[positions < self.window - 1][0]
            raise TrainingError(
                f"return_lstm: origin {first.date()} has fewer than {self.window} days before it"
            )
        values = self._inputs(task)
        windows = values[positions[:, None] + np.arange(-self.window + 1, 1)[None, :]]
        mean = windows.mean(axis=1, keepdims=True)
        std = windows.std(axis=1, keepdims=True)
        return ((windows - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)

    def _targets(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        close = task.close.to_numpy(dtype=float)
        positions = task.close.index.get_indexer(origins)
        forward = close[positions + self.horizon] / close[positions] - 1.0
        return np.clip(forward, -self.clip, self.clip) * self.scale

    def _fit_origins(
        self, task: ForecastTask, end: pd.Timestamp, start: pd.Timestamp | None
    ) -> pd.DatetimeIndex:
        """Origins whose whole 5-day target lies in (start, end]: training targets never reach validation."""
        index = task.close.index
        positions = np.arange(len(index))
        horizon_end = positions + self.horizon
        ok = (positions >= self.window - 1) & (horizon_end < len(index))
        ok[ok] &= index[horizon_end[ok]] <= end
        if start is not None:
            ok &= index > start
        return pd.DatetimeIndex(index[ok])

    def fit(self, task: ForecastTask) -> ReturnLSTM:
        train = self._fit_origins(task, task.split.train_end, None)
        val = self._fit_origins(task, task.split.val_end, task.split.train_end)
        if len(train) < 10:
            raise TrainingError(f"return_lstm: {len(train)} training windows are too few")
        with seeded_fitting(self.seed) as generator:
            self.net = ReturnLSTMNet()
            self.history = fit_regressor(
                self.net,
                self._windows(task, train),
                self._targets(task, train),
                self._windows(task, val),
                self._targets(task, val) if len(val) else np.zeros(0),
                generator=generator,
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                patience=self.patience,
            )
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.net is None:
            raise RuntimeError("ReturnLSTM.predict called before fit")
        signal = predict_batches(self.net, self._windows(task, origins)) / self.scale
        daily = np.log1p(np.clip(signal, -0.99, None)) / self.horizon
        forecast = Forecast.from_returns(self.name, task, origins, daily)
        forecast.extra.update(
            {
                "hold_days": self.horizon,
                "signal": signal,
                "strategy": "long_flat",
                "history": self.history,
            }
        )
        return forecast


class ReturnLSTM5d(ReturnLSTM):
    """The notes' own setup: the 5-day forward return, traded with a 5-day hold."""

    name = "return_lstm_5d"
    default_horizon = 5
