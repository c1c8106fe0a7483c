"""Compare tuning strategies at an equal budget of GAN epochs over several seeds."""

from __future__ import annotations

import dataclasses

import pandas as pd
from rich.console import Console

from gan_trader.config import ExperimentConfig
from gan_trader.errors import ConfigError, TuningError
from gan_trader.models.base import ForecastTask
from gan_trader.tracking import tags
from gan_trader.tracking.store import Recorder, open_recorder
from gan_trader.tuning.executor import Executor
from gan_trader.tuning.session import progress_figure, run_session
from gan_trader.tuning.strategies import ALL_STRATEGIES
from gan_trader.workflow.prepare import prepare


def _race_config(config: ExperimentConfig, seed: int, budget_epochs: int) -> ExperimentConfig:
    """The config one strategy runs with for one seed: the shared epoch budget and no warm start."""
    per_episode = config.tuning.epochs_per_episode or config.gan.epochs
    tuning = config.tuning.model_copy(
        update={
            "budget_epochs": budget_epochs,
            "warm_start": False,  # each run starts from nothing: a fair race
            "episodes": max(1, -(-budget_epochs // min(per_episode, budget_epochs))) * 4,
        }
    )
    return config.model_copy(update={"seed": seed, "tuning": tuning})


def _log_comparison(
    recorder: Recorder, config: ExperimentConfig, frame: pd.DataFrame, strategies: list[str], params: dict
) -> str:
    run_id = recorder.start_session("compare", params=params, tags={tags.KIND_TAG: "compare"})
    recorder.log_table(run_id, frame, "comparison.csv")
    by_strategy = {name: frame[frame["strategy"] == name] for name in strategies}
    recorder.log_figure(
        run_id, progress_figure(by_strategy, config.tuning.objective), "plots/best_vs_epochs.png"
    )
    final = frame.sort_values("epochs_spent").groupby(["strategy", "seed"]).last()
    for (name, seed), row in final.iterrows():
        recorder.log_metrics(
            run_id,
            {
                f"compare/{name}/best_val": row["best_val"],
                f"compare/{name}/test_at_best": row["test_at_best"],
            },
            step=int(seed),
        )
    recorder.finish(run_id)
    return run_id


def compare_strategies(
    config: ExperimentConfig,
    strategies: list[str],
    seeds: list[int],
    budget_epochs: int,
    *,
    task: ForecastTask | None = None,
    recorder: Recorder | None = None,
    executor: Executor | None = None,
    quiet: bool = True,
) -> pd.DataFrame:
    """Run each strategy with each seed at the same budget of GAN epochs; return one row per episode.

    Columns: strategy, seed, episode, epochs_spent, val_error, best_val, test_at_best (the test error of the
    episode with the best validation error so far: selection never looks at test days), persistence's
    errors on the same days, session id. Logs the table and the plot (best validation error against epochs
    spent, mean over seeds, one line per strategy) to a `compare` run of the experiment.
    """
    unknown = [name for name in strategies if name not in ALL_STRATEGIES]
    if unknown:
        raise TuningError(
            f"tuning.strategy: unknown strategy {unknown[0]!r} (choose from {', '.join(ALL_STRATEGIES)})"
        )
    if not seeds:
        raise TuningError("evaluation.seeds: at least one seed is needed to compare strategies")
    recorder = recorder or open_recorder(config.tracking, config.experiment_name)
    tables = []
    for seed in seeds:
        seeded = _race_config(config, seed, budget_epochs)
        seed_task = task if task is not None else prepare(seeded).task
        seed_task = seed_task if seed_task.seed == seed else dataclasses.replace(seed_task, seed=seed)
        for name in strategies:
            result = run_session(seeded, seed_task, recorder, strategy=name, executor=executor, quiet=quiet)
            table = result.table()
            table.insert(0, "seed", seed)
            table.insert(0, "strategy", name)
            table["session_id"] = result.session_id
            tables.append(table)
    frame = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    params = {"strategies": strategies, "seeds": seeds, "budget_epochs": budget_epochs}
    frame.attrs["run_id"] = _log_comparison(recorder, config, frame, strategies, params)
    return frame


def compare_tuning(
    config: ExperimentConfig, strategies: list[str], *, console: Console | None = None
) -> pd.DataFrame:
    """Run each strategy over `evaluation.seeds` at an equal budget of GAN epochs and print the outcome.

    The budget is `tuning.budget_epochs` (default: episodes x epochs per episode). Per strategy: mean and
    standard deviation over seeds of the best validation error and the test error of the episode it selects.
    """
    unknown = [name for name in strategies if name not in ALL_STRATEGIES] or (
        [] if strategies else ["(none)"]
    )
    if unknown:
        choices = ", ".join(ALL_STRATEGIES)
        raise ConfigError(f"--compare: unknown strategy {unknown[0]!r} (choose from {choices})")
    budget = config.tuning.budget_epochs or config.tuning.episodes * (
        config.tuning.epochs_per_episode or config.gan.epochs
    )
    prepared = prepare(config)
    recorder = open_recorder(config.tracking, config.experiment_name)
    table = compare_strategies(
        config, strategies, list(config.evaluation.seeds), budget, task=prepared.task, recorder=recorder
    )
    final = table.sort_values("epochs_spent").groupby(["strategy", "seed"]).last()
    summary = final.groupby("strategy")[["best_val", "test_at_best", "test_persistence"]].agg(["mean", "std"])
    (console or Console()).print(f"budget: {budget} GAN epochs per strategy and seed\n{summary.to_string()}")
    return table
