"""Baselines every forecast is judged against, registered by name like the feature builders.

Adding a baseline is one module plus one entry in REGISTRY; `evaluation.baselines` in the config lists the
names to run. Every baseline implements `Forecaster`: fitted on the task's training rows (validation rows
only for early stopping) and scored on the same test days as the GAN.
"""

from __future__ import annotations

import pandas as pd

from gan_trader.config import GanConfig
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.registry import resolve

# Registry: baseline name -> "module:Class".
REGISTRY: dict[str, str] = {
    "persistence": "gan_trader.models.baselines.persistence:Persistence",
    "drift": "gan_trader.models.baselines.drift:Drift",
    "arima": "gan_trader.models.baselines.arima:ArimaBaseline",
    "xgboost": "gan_trader.models.baselines.xgboost_model:XGBoostBaseline",
    "l1_generator": "gan_trader.models.baselines.l1_generator:L1Generator",
    "score_generator": "gan_trader.models.baselines.score_generator:ScoreGenerator",
    "price_lstm": "gan_trader.models.baselines.price_lstm:PriceLSTM",
    "return_lstm": "gan_trader.models.baselines.return_lstm:ReturnLSTM",
    "return_lstm_5d": "gan_trader.models.baselines.return_lstm:ReturnLSTM5d",
    # Forecast distributions (distributions.py): judged by CRPS, coverage and PIT beside the GAN's.
    "gauss_60d": "gan_trader.models.baselines.distributions:Gaussian60",
    "gauss_60d_drift": "gan_trader.models.baselines.distributions:Gaussian60Drift",
    "gauss_ewma": "gan_trader.models.baselines.distributions:GaussianEwma",
    "gauss_ewma_drift": "gan_trader.models.baselines.distributions:GaussianEwmaDrift",
    "garch_t": "gan_trader.models.baselines.distributions:GarchT",
    "har_t": "gan_trader.models.baselines.har_t:HarT",
    "lstm_skewt": "gan_trader.models.baselines.lstm_skewt:LstmSkewT",
    "bootstrap": "gan_trader.models.baselines.distributions:HistoricalBootstrap",
    "filtered_bootstrap": "gan_trader.models.baselines.distributions:FilteredBootstrap",
    "quantile_regression": "gan_trader.models.baselines.distributions:QuantileRegression",
}

BASELINES: tuple[str, ...] = tuple(REGISTRY)


def baseline_class(name: str) -> type[Forecaster]:
    """The class registered under `name`; an unknown name is a config error naming evaluation.baselines."""
    return resolve(REGISTRY, name, f"evaluation.baselines: unknown baseline {name!r}")  # type: ignore[no-any-return]


def create_baseline(
    name: str, seed: int = 0, gan: GanConfig | None = None, scaler: str = "standard"
) -> Forecaster:
    """Instantiate a registered baseline; the GAN ablation also takes the experiment's `gan` section."""
    cls = baseline_class(name)
    if cls.uses_gan_config:
        return cls(seed=seed, gan=gan, scaler=scaler)  # type: ignore[call-arg]
    return cls(seed=seed)  # type: ignore[call-arg]


def run_baselines(
    names: list[str],
    task: ForecastTask,
    seed: int,
    origins: pd.DatetimeIndex | None = None,
    gan: GanConfig | None = None,
    scaler: str = "standard",
) -> list[Forecast]:
    """Fit each named baseline on the task and forecast the test days (or the given origins)."""
    for name in names:  # every name is checked before any fitting
        baseline_class(name)
    origins = task.origins("test") if origins is None else origins
    forecasts = []
    for name in names:
        model = create_baseline(name, seed, gan, scaler)
        forecasts.append(model.fit(task).predict(task, origins))
    return forecasts
