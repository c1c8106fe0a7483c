"""Sliding windows: `seq_len` days of F scaled features ending at t -> the target for day t+1.

Scalers (features and target) are fitted on training rows only. Each window also carries the scaled target
history of its own `seq_len` days (known at t), which the critic sees next to the real or generated value.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from gan_trader.errors import TrainingError
from gan_trader.models.base import ForecastTask, TargetKind

SCALERS = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}


@dataclass
class TargetScaler:
    """Affine scaling of the target (log return or price), fitted on training targets."""

    kind: TargetKind
    mean: float
    std: float

    def scale(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, float) - self.mean) / self.std

    def unscale(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, float) * self.std + self.mean


@dataclass
class WindowSet:
    """Windows for a set of origins. Shapes: x (N, seq_len, F), history (N, seq_len), y (N,)."""

    origins: pd.DatetimeIndex
    x: np.ndarray
    history: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.origins)


class WindowMaker:
    """Fits scalers on the training span and cuts windows for any origins (of its task, or of another task
    with the same columns through `for_task`)."""

    def __init__(self, task: ForecastTask, scaler: str = "standard") -> None:
        self.seq_len = task.seq_len
        self.columns = list(task.features.columns)
        train = task.features.loc[: task.split.train_end]
        if len(train) < self.seq_len + 2:
            raise TrainingError(
                f"gan.seq_len: {len(train)} training rows cannot make windows of {self.seq_len} days"
            )
        values = _finite_values(task.features)
        # No feature columns: the windows carry the target's history alone.
        self.feature_scaler = (
            None if scaler == "none" or not self.columns else SCALERS[scaler]().fit(values[: len(train)])
        )
        self.task = task
        train_targets = self._target_series().loc[task.origins("train")].to_numpy()
        std = float(np.std(train_targets)) or 1.0
        self.target_scaler = TargetScaler(task.target_kind, float(np.mean(train_targets)), std)
        self._bind(task, values)

    def _bind(self, task: ForecastTask, values: np.ndarray) -> None:
        """Scale `task`'s rows with the fitted scalers."""
        self.task = task
        scaled = values if self.feature_scaler is None else self.feature_scaler.transform(values)
        self.scaled = scaled.astype(np.float32)
        # Scaled target value whose day is t: used for the history the critic sees.
        self.target_by_day = self.target_scaler.scale(self._target_on_day()).astype(np.float32)
        self.target_next = self.target_scaler.scale(self._target_series().to_numpy()).astype(np.float32)
        self.positions = pd.Series(np.arange(len(task.features)), index=task.features.index)

    def for_task(self, task: ForecastTask) -> WindowMaker:
        """A maker for `task`'s rows with these fitted scalers (forecasting a task the model was not fitted
        on: the forecast then reads that task's rows up to each origin, and nothing of it was learnt)."""
        if task is self.task:
            return self
        if list(task.features.columns) != self.columns:
            raise TrainingError(
                "the task to forecast has other feature columns than the one the model was fitted on"
            )
        maker = copy.copy(self)
        maker._bind(task, _finite_values(task.features))
        return maker

    def _target_series(self) -> pd.Series:
        """Target for day t+1 indexed by origin t."""
        if self.task.target_kind == "log_return":
            return self.task.next_day_returns()
        close = self.task.close
        return close.shift(-1)

    def _target_on_day(self) -> np.ndarray:
        """The target quantity observed on day t itself (log return into t, or close[t])."""
        close = self.task.close
        if self.task.target_kind == "log_return":
            return np.log(close / close.shift(1)).fillna(0.0).to_numpy()
        return close.to_numpy()

    def windows(self, origins: pd.DatetimeIndex) -> WindowSet:
        positions = self.positions.reindex(origins).to_numpy()
        if np.isnan(positions).any():
            missing = origins[np.isnan(positions)][0]
            raise TrainingError(f"no features for origin {missing.date()}")
        positions = positions.astype(int)
        keep = positions >= self.seq_len - 1
        positions, origins = positions[keep], origins[keep]
        offsets = np.arange(-self.seq_len + 1, 1)
        index = positions[:, None] + offsets[None, :]
        return WindowSet(
            origins=origins,
            x=self.scaled[index],
            history=self.target_by_day[index],
            y=self.target_next[positions],
        )

    def split_windows(self) -> tuple[WindowSet, WindowSet, WindowSet]:
        task = self.task
        return (
            self.windows(task.origins("train")),
            self.windows(task.origins("val")),
            self.windows(task.origins("test")),
        )


def _finite_values(features: pd.DataFrame) -> np.ndarray:
    values = features.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row, col = np.argwhere(~np.isfinite(values))[0]
        raise TrainingError(
            f"feature '{features.columns[col]}' is not finite at {features.index[row].date()}"
        )
    return values
