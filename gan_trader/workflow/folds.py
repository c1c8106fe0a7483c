"""Walk-forward evaluation and multi-seed summaries, written once against the Forecaster interface.

Every fold rebuilds the features with `prepare(config, panel, split)` (so every builder, scaler and model is
refitted on that fold's training span) and forecasts that fold's test days; the folds' forecasts are joined
into one forecast per model and scored on all test days together.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig
from gan_trader.data.panel import Panel
from gan_trader.data.splits import Split
from gan_trader.evaluation.drift import DriftReport, drift_report
from gan_trader.evaluation.leaderboard import Leaderboard, evaluate
from gan_trader.models.base import PER_DAY_EXTRAS, PER_FOLD_EXTRAS, Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines import create_baseline
from gan_trader.models.devices import torch_threads
from gan_trader.tuning.executor import WorkerPool
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
    extra: dict[str, Any] = {}
    for part in parts:  # every fold's keys: a diagnostic only some folds have (MH's) is kept
        extra.update(part.extra)
    for key, value in extra.items():
        if key in PER_DAY_EXTRAS and all(key in p.extra for p in parts):
            extra[key] = np.concatenate([np.asarray(p.extra[key], float) for p in parts])
        elif key in PER_FOLD_EXTRAS:  # one entry per fold (NaN where a fold has none)
            extra[key] = np.array([float(p.extra.get(key, np.nan)) for p in parts])
        elif isinstance(value, int | float | np.number) and not isinstance(value, bool):
            # a diagnostic (MH acceptance...): its mean over the folds that have it
            values = [
                float(p.extra[key]) for p in parts if isinstance(p.extra.get(key), int | float | np.number)
            ]
            extra[key] = float(np.mean(values)) if key not in ("hold_days",) else value
    for key in PER_DAY_EXTRAS:
        if key in extra and not all(key in p.extra for p in parts):
            del extra[key]
    return Forecast(
        model=parts[0].model,
        origins=pd.DatetimeIndex(np.concatenate([p.origins.to_numpy() for p in parts])),
        target_dates=pd.DatetimeIndex(np.concatenate([p.target_dates.to_numpy() for p in parts])),
        log_return=np.concatenate([p.log_return for p in parts]),
        price=np.concatenate([p.price for p in parts]),
        samples=joined_samples,
        extra=extra,
        price_level=parts[0].price_level,
    )


def historical_forecasts(prepared: Prepared, factory: ForecasterFactory, seed: int) -> Forecast:
    """Fit a fresh forecaster on one prepared split and forecast its test days."""
    task = prepared.task
    return factory(prepared, seed).fit(task).predict(task, task.origins("test"))


# The scores the per-fold table shows.
FOLD_COLUMNS = (
    "days",
    "relmae",
    "dm_pvalue",
    "crps_rel",
    "coverage_90",
    "crps_dm_pvalue",
    "long_flat_sharpe",
)

# One job of a fold and seed: a model's forecasts of the fold's test days (a list: the GAN's come with its
# ablations). Jobs that evaluate_folds may run in worker processes must pickle: a top-level function or a
# dataclass with __call__, never a closure.
RowJob = Callable[[], list[Forecast]]
# (prepared fold, seed) -> the jobs whose forecasts are that fold's leaderboard rows, in row order
FoldRows = Callable[[Prepared, int], list[RowJob]]


JobKey = tuple[int, int, int]  # (fold, seed, the job's place among the fold's rows)


@dataclass
class JobDone:
    """A job's forecasts and where its time went: the seconds it took and the process that ran it."""

    forecasts: list[Forecast]
    seconds: float
    process: int


def _run_row(key: JobKey, job: RowJob) -> tuple[JobKey, JobDone]:
    started = time.perf_counter()
    forecasts = job()
    return key, JobDone(forecasts, time.perf_counter() - started, os.getpid())


@dataclass
class FoldsEvaluation:
    """Every (fold, seed): its forecasts' leaderboard on the fold's test days; per seed: the folds' forecasts
    joined and scored on all their test days together (`runs`)."""

    splits: list[Split]
    seeds: list[int]
    per_fold: dict[tuple[int, int], Leaderboard]
    runs: dict[int, WalkForwardResult]
    drift: DriftReport
    jobs: pd.DataFrame  # one row per job: fold, seed, models (its rows), seconds, process

    @property
    def leaderboard(self) -> Leaderboard:
        """The first seed's leaderboard over the pooled test days of every fold."""
        return self.runs[self.seeds[0]].leaderboard

    def fold_table(self, columns: tuple[str, ...] = FOLD_COLUMNS) -> pd.DataFrame:
        """One row per (fold, seed, model): the fold's test span and the main scores on it."""
        rows = []
        for (fold, seed), board in sorted(self.per_fold.items()):
            split = self.splits[fold]
            for model, row in board.table.iterrows():
                entry = {"fold": fold, "seed": seed, "model": model, "test_from": split.val_end.date()}
                entry.update({c: row[c] for c in columns if c in board.table.columns})
                rows.append(entry)
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over folds x seeds of every numeric score (columns: metric, stat)."""
        return seed_summary([board.table for board in self.per_fold.values()])


def evaluate_folds(
    config: ExperimentConfig,
    panel: Panel,
    rows: FoldRows,
    seeds: list[int],
    first: Prepared | None = None,
    use_cache: bool = True,
    pool: WorkerPool | None = None,
) -> FoldsEvaluation:
    """Refit everything per fold of `split.walk_forward` (features by `prepare`, models by `rows`) and
    score each fold alone and all folds pooled, once per seed. `first` reuses fold 0's prepared data.

    With a `pool` the rows' jobs run in its worker processes (one torch thread each) while this process
    builds the next fold's features with one thread; the rows keep their order, so the tables are the
    same as in one process (to the last bits of a multi-threaded sum)."""
    splits = fold_splits(config, panel)
    found: dict[JobKey, JobDone] = {}
    jobs: dict[tuple[int, int], int] = {}
    prepared_folds: list[Prepared] = []
    with torch_threads(1 if pool is not None else None):
        for fold, split in enumerate(splits):
            prepared = first if fold == 0 and first is not None else prepare(config, panel, split, use_cache)
            prepared_folds.append(prepared)
            for seed in seeds:
                planned = rows(prepared, seed)
                jobs[(fold, seed)] = len(planned)
                for index, job in enumerate(planned):
                    if pool is None:
                        key, done = _run_row((fold, seed, index), job)
                        found[key] = done
                    else:
                        pool.submit(_run_row, (fold, seed, index), job)
        while pool is not None and pool.running:
            found.update(pool.gather())
    per_fold: dict[tuple[int, int], Leaderboard] = {}
    parts: dict[int, dict[str, list[Forecast]]] = {seed: {} for seed in seeds}
    for (fold, seed), count in jobs.items():  # folds in order: each model's parts are consecutive
        forecasts = [f for index in range(count) for f in found[(fold, seed, index)].forecasts]
        task = prepared_folds[fold].task
        per_fold[(fold, seed)] = evaluate(task, forecasts, config.evaluation, compare=False)
        for forecast in forecasts:
            parts[seed].setdefault(forecast.model, []).append(forecast)
    timing = pd.DataFrame(
        [
            {
                "fold": fold,
                "seed": seed,
                "models": " ".join(f.model for f in done.forecasts),
                "seconds": done.seconds,
                "process": done.process,
            }
            for (fold, seed, _), done in sorted(found.items())
        ]
    )
    fold_features = [(prepared.task.features, prepared.split) for prepared in prepared_folds]
    # The last fold's task covers every test day (features of all folds start after the same warm-up).
    task = prepared_folds[-1].task
    runs = {}
    for seed, models in parts.items():
        complete = {name: folds for name, folds in models.items() if len(folds) == len(splits)}
        joined = [join_forecasts(folds) for folds in complete.values()]
        by_fold = [{name: folds[k] for name, folds in complete.items()} for k in range(len(splits))]
        runs[seed] = WalkForwardResult(joined, task, by_fold, evaluate(task, joined, config.evaluation))
    return FoldsEvaluation(splits, seeds, per_fold, runs, drift_report(fold_features), timing)


def run_folds(
    config: ExperimentConfig,
    models: Mapping[str, ForecasterFactory],
    seed: int | None = None,
    panel: Panel | None = None,
    use_cache: bool = True,
) -> WalkForwardResult:
    """Refit every model (and every feature builder) per fold of `split.walk_forward`; score all test days."""
    seed = config.seed if seed is None else seed

    def named(prepared: Prepared, factory: ForecasterFactory, seed: int, name: str) -> list[Forecast]:
        forecast = historical_forecasts(prepared, factory, seed)
        forecast.model = name
        return [forecast]

    def rows(prepared: Prepared, seed: int) -> list[RowJob]:
        return [functools.partial(named, prepared, factory, seed, name) for name, factory in models.items()]

    return evaluate_folds(config, panel or load_panel(config), rows, [seed], use_cache=use_cache).runs[seed]


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
    seeds = config.evaluation_seeds if seeds is None else list(seeds)
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
