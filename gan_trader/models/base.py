"""The forecaster interface every model and baseline implements, so evaluation is written once.

A forecast made at the close of day t is for day t+1. Forecasts are kept in both spaces: the log return
log(close[t+1] / close[t]) and the price close[t+1]; metrics are computed on the test days only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from gan_trader.io import atomic_path

if TYPE_CHECKING:  # types only: the models import with torch and numpy alone (no config validation)
    from gan_trader.data.panel import Panel
    from gan_trader.data.splits import Split

TargetKind = Literal["log_return", "price"]


@dataclass
class ForecastTask:
    """Everything a forecaster may read. Features are causal; fitting must use rows <= split.val_end only.

    `features` holds the rows where every feature is defined (after warm-up), with the target close among
    its columns; `panel` gives the raw aligned prices (OHLCV) for baselines that want them.
    """

    panel: Panel
    features: pd.DataFrame
    split: Split
    seed: int = 0
    target_kind: TargetKind = "log_return"
    seq_len: int = 17

    @property
    def close(self) -> pd.Series:
        return self.panel.close.loc[self.features.index]

    def next_day_returns(self) -> pd.Series:
        """r[t] = log(close[t+1] / close[t]), indexed by the forecast origin t (NaN on the last day)."""
        close = self.close
        return pd.Series(np.log(close.shift(-1) / close), index=close.index, name="next_return")

    def origins(self, span: Literal["train", "val", "test"]) -> pd.DatetimeIndex:
        """Forecast origins t whose target day t+1 falls in `span`."""
        index = self.features.index
        targets = pd.Series(index[1:], index=index[:-1])
        split = self.split
        if span == "train":
            mask = targets <= split.train_end
        elif span == "val":
            mask = (targets > split.train_end) & (targets <= split.val_end)
        else:
            mask = (targets > split.val_end) & (targets <= split.test_end)
        return pd.DatetimeIndex(targets.index[mask.to_numpy()])


@dataclass
class Forecast:
    """Forecasts for the days after `origins`. `samples` (N x K log returns) when the model samples.

    `ablations`: forecasts of the same days the model made alongside this one, each a leaderboard row of its
    own (the GAN's raw draws and its MH samples); they are not saved with it.
    """

    model: str
    origins: pd.DatetimeIndex
    target_dates: pd.DatetimeIndex
    log_return: np.ndarray
    price: np.ndarray
    samples: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    ablations: list[Forecast] = field(default_factory=list)
    price_level: bool = False  # made by a model of the price level (from_prices), not of returns

    @classmethod
    def from_returns(
        cls,
        model: str,
        task: ForecastTask,
        origins: pd.DatetimeIndex,
        log_return: np.ndarray,
        samples: np.ndarray | None = None,
    ) -> Forecast:
        close = task.close
        anchor = close.loc[origins].to_numpy()
        positions = close.index.get_indexer(origins)
        targets = pd.DatetimeIndex(close.index[positions + 1])
        return cls(
            model, origins, targets, np.asarray(log_return, float), anchor * np.exp(log_return), samples
        )

    @classmethod
    def from_prices(
        cls,
        model: str,
        task: ForecastTask,
        origins: pd.DatetimeIndex,
        price: np.ndarray,
        samples: np.ndarray | None = None,
    ) -> Forecast:
        anchor = task.close.loc[origins].to_numpy()
        price = np.asarray(price, float)
        log_return = np.log(np.maximum(price, 1e-12) / anchor)
        forecast = cls.from_returns(model, task, origins, log_return, samples)
        forecast.price_level = True
        return forecast


# Forecast.extra entries with a meaning across modules. Per-day arrays are joined over walk-forward folds
# by concatenation, per-fold values by collecting them (one entry per fold), other numbers by their mean.
NORMAL_SD = "normal_sd"  # per day: the sd of a Gaussian forecast N(log_return, sd^2), scored in closed form
USES_MH = "uses_mh"  # per fold: 1 when the forecast is the MH samples, 0 when it is the raw draws
PER_DAY_EXTRAS = (NORMAL_SD,)
PER_FOLD_EXTRAS = (USES_MH,)


def _numeric_extra(extra: dict[str, Any]) -> dict[str, np.ndarray]:
    """The numeric entries of `Forecast.extra` (hold_days, signals); nested records are not stored."""
    stored = {}
    for key, value in extra.items():
        array = np.asarray(value) if isinstance(value, int | float | np.ndarray | np.number) else None
        if array is not None and array.dtype.kind in "biuf":
            stored[f"extra.{key}"] = array
    return stored


def save_forecast(forecast: Forecast, path: str | Path) -> None:
    """Write a forecast (and its samples) to one .npz file, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            model=np.array(forecast.model),
            origins=forecast.origins.to_numpy().astype("datetime64[ns]"),
            target_dates=forecast.target_dates.to_numpy().astype("datetime64[ns]"),
            log_return=forecast.log_return,
            price=forecast.price,
            samples=forecast.samples if forecast.samples is not None else np.empty((0, 0)),
            price_level=np.array(forecast.price_level),
            **_numeric_extra(forecast.extra),  # type: ignore[arg-type]
        )


def load_forecast(path: str | Path) -> Forecast:
    with np.load(path, allow_pickle=False) as data:
        samples = data["samples"]
        return Forecast(
            model=str(data["model"]),
            origins=pd.DatetimeIndex(data["origins"]),
            target_dates=pd.DatetimeIndex(data["target_dates"]),
            log_return=data["log_return"],
            price=data["price"],
            samples=samples if samples.size else None,
            price_level=bool(data["price_level"]) if "price_level" in data.files else False,
            extra={
                key.removeprefix("extra."): (data[key].item() if data[key].ndim == 0 else data[key])
                for key in data.files
                if key.startswith("extra.")
            },
        )


class Forecaster(ABC):
    """fit on the task's train/val rows, predict next-day values for given origins (causally)."""

    name: ClassVar[str]
    # Whether the constructor takes the experiment's `gan` section and scaler (the GAN ablation baseline).
    uses_gan_config: ClassVar[bool] = False
    # Whether validation rows steer the fit (early stopping, calibration); nothing else after train_end does.
    uses_validation: ClassVar[bool] = False

    @abstractmethod
    def fit(self, task: ForecastTask) -> Forecaster:
        """Train on rows <= task.split.val_end (validation rows only for early stopping / calibration)."""

    @abstractmethod
    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        """Forecast day t+1 for each origin t, using rows <= t only."""
