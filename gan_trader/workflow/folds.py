"""Walk-forward evaluation and multi-seed summaries, written once against the Forecaster interface.

Every fold rebuilds the features with `prepare(config, panel, split)` (so every builder, scaler and model is
refitted on that fold's training span) and forecasts that fold's test days; the folds' forecasts are joined
into one forecast per model and scored on all test days together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig
from gan_trader.data.panel import Panel
from gan_trader.evaluation.leaderboard import Leaderboard, evaluate
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines import create_baseline
from gan_trader.workflow.prepare import Prepared, fold_splits, load_panel, prepare

# model name -> factory(prepared fold, seed) -> an unfitted forecaster
ForecasterFactory = Callable[[Prepared, int], Forecaster]


@dataclass
class WalkForwardResult:
    """Joined forecasts over all folds, the task they are scored on, the folds' forecasts and the scores."""

    forecasts: list[Forecast]
    task: ForecastTask
    folds: list[dict[str, Forecast]]
    leaderboard: Leaderboard


def baseline_factories(names: list[str]) -> dict[str, ForecasterFactory]:
    """Factories for registered baselines (the GAN ablation gets the config's `gan` section)."""

    def factory(name: str) -> ForecasterFactory:
        return lambda prepared, seed: create_baseline(
            name, seed, prepared.config.gan, prepared.config.features.scaler
        )

    return {name: factory(name) for name in names}


def join_forecasts(parts: list[Forecast]) -> Forecast:
    """Concatenate one model's forecasts of consecutive folds (their test days never overlap)."""
    samples = [p.samples for p in parts if p.samples is not None]
    joined_samples: np.ndarray | None = np.concatenate(samples) if len(samples) == len(parts) else None
    extra = dict(parts[-1].extra)
    return Forecast(
        model=parts[0].model,
        origins=pd.DatetimeIndex(np.concatenate([p.origins.to_numpy() for p in parts])),
        target_dates=pd.DatetimeIndex(np.concatenate([p.target_dates.to_numpy() for p in parts])),
        log_return=np.concatenate([p.log_return for p in parts]),
        price=np.concatenate([p.price for p in parts]),
        samples=joined_samples,
        extra=extra,
    )


def historical_forecasts(prepared: Prepared, factory: ForecasterFactory, seed: int) -> Forecast:
    """Fit a fresh forecaster on one prepared split and forecast its test days."""
    task = prepared.task
    return factory(prepared, seed).fit(task).predict(task, task.origins("test"))


def run_folds(
    config: ExperimentConfig,
    models: Mapping[str, ForecasterFactory],
    seed: int | None = None,
    panel: Panel | None = None,
    use_cache: bool = True,
) -> WalkForwardResult:
    """Refit every model (and every feature builder) per fold of `split.walk_forward`; score all test days."""
    panel = panel or load_panel(config)
    seed = config.seed if seed is None else seed
    folds: list[dict[str, Forecast]] = []
    prepared = None
    for split in fold_splits(config, panel):
        prepared = prepare(config, panel, split, use_cache=use_cache)
        folds.append(
            {name: historical_forecasts(prepared, factory, seed) for name, factory in models.items()}
        )
    assert prepared is not None
    joined = [join_forecasts([fold[name] for fold in folds]) for name in models]
    for forecast, name in zip(joined, models, strict=True):
        forecast.model = name
    # The last fold's task covers every test day (features of all folds start after the same warm-up).
    task = prepared.task
    return WalkForwardResult(joined, task, folds, evaluate(task, joined, config.evaluation))


def seed_summary(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every numeric leaderboard column (columns: metric, stat)."""
    numeric = [t.select_dtypes(include="number").astype(float) for t in tables]
    stacked = pd.concat(numeric, keys=range(len(numeric)), names=["seed_index", "model"])
    grouped = stacked.groupby(level="model")
    summary = pd.concat(
        {"mean": grouped.mean(), "std": grouped.std(ddof=1 if len(tables) > 1 else 0)}, axis=1
    )
    return summary.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)


def multi_seed(
    config: ExperimentConfig,
    models: Mapping[str, ForecasterFactory],
    seeds: list[int] | None = None,
    panel: Panel | None = None,
) -> tuple[pd.DataFrame, list[WalkForwardResult]]:
    """Walk-forward once per seed (evaluation.seeds by default); mean +- std of the leaderboards."""
    seeds = list(config.evaluation.seeds if seeds is None else seeds)
    panel = panel or load_panel(config)
    results = [run_folds(config, models, seed, panel) for seed in seeds]
    return seed_summary([r.leaderboard.table for r in results]), results


def format_mean_std(summary: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """'mean ± std' strings per metric, for printing."""
    metrics = summary.columns.get_level_values(0).unique()
    return pd.DataFrame(
        {
            m: [
                f"{a:.{digits}f} ± {b:.{digits}f}"
                for a, b in zip(summary[(m, "mean")], summary[(m, "std")], strict=True)
            ]
            for m in metrics
        },
        index=summary.index,
    )
