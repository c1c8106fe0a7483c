"""Compare tuning strategies at an equal budget of GAN epochs over several seeds (`make compare`).

Each strategy runs one session per seed with the same budget; a session selects the episode with the lowest
validation score, and the comparison reports that score and the selected episode's test score (selection
never looks at test days), as mean and standard deviation over seeds. `fixed` spends the budget on
restarts of the config's own hyperparameters (episode i with seed + i) and selects the best restart the same
way; `pbt` and `pb2` spend it as population x rounds x interval epochs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from gan_trader.config import ExperimentConfig
from gan_trader.errors import ConfigError, TuningError
from gan_trader.io import atomic_path, write_json
from gan_trader.models.base import ForecastTask
from gan_trader.tracking import tags
from gan_trader.tracking.store import Recorder, open_recorder
from gan_trader.tuning.executor import Executor
from gan_trader.tuning.session import SessionResult, progress_figure, run_session
from gan_trader.tuning.strategies import ALL_STRATEGIES
from gan_trader.workflow.prepare import prepare

# One row per strategy and seed: what its session selected and what it spent.
SELECTION_COLUMNS = ("best_val", "test_selected", "test_persistence", "epochs_spent", "episodes", "wall_s")
# The summary's columns: (column of the selection, heading, shown as mean ± std).
SUMMARY_HEADINGS = {
    "best_val": "best validation {objective}",
    "test_selected": "test {test} of the selected episode",
    "test_persistence": "test {test} of persistence",
    "epochs_spent": "GAN epochs spent",
    "episodes": "episodes",
    "wall_s": "wall s per session",
}

# Decimals of the columns that are no scores (a score gets four significant digits).
COUNT_DECIMALS = {"epochs_spent": 1, "episodes": 1, "wall_s": 0}


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
    recorder.log_figure(run_id, comparison_figure(frame, strategies, config), "plots/best_vs_epochs.png")
    selected = select_episodes(frame)
    for (name, seed), row in selected.iterrows():
        recorder.log_metrics(
            run_id,
            {
                f"compare/{name}/best_val": row["best_val"],
                f"compare/{name}/test_at_best": row["test_selected"],
            },
            step=int(seed),
        )
    recorder.finish(run_id)
    return run_id


def comparison_figure(frame: pd.DataFrame, strategies: list[str], config: ExperimentConfig) -> Any:
    """Best validation score against GAN epochs spent, mean over seeds, one line per strategy."""
    by_strategy = {name: frame[frame["strategy"] == name] for name in strategies}
    return progress_figure(by_strategy, config.tuning.objective)


def _session_table(result: SessionResult, name: str, seed: int, wall_s: float) -> pd.DataFrame:
    """A session's episode table with its strategy, seed, each episode's own test score and the wall time."""
    table = result.table()
    test_key = result.objective.replace("val/", "test/")
    table["test_error"] = [episode.metrics.get(test_key, math.nan) for episode in result.episodes]
    table.insert(0, "seed", seed)
    table.insert(0, "strategy", name)
    table["session_id"] = result.session_id
    table["wall_s"] = wall_s
    return table


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

    Columns: strategy, seed, episode, epochs_spent, val_error, test_error, best_val, test_at_best (the test
    error of the episode with the best validation error so far), persistence's errors on the same days,
    session id, wall_s (the session's). Logs the table and the plot (best validation error against epochs
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
            started = time.monotonic()
            result = run_session(seeded, seed_task, recorder, strategy=name, executor=executor, quiet=quiet)
            tables.append(_session_table(result, name, seed, time.monotonic() - started))
    frame = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    params = {"strategies": strategies, "seeds": seeds, "budget_epochs": budget_epochs}
    frame.attrs["run_id"] = _log_comparison(recorder, config, frame, strategies, params)
    return frame


def _number(value: Any) -> float:
    """A logged metric as a float; NaN when it is missing."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def select_episodes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and seed (the index), the episode its session selects: the lowest finite validation
    score (the first one on ties), its test score, persistence's on the same days, and what was spent."""
    rows = {}
    for (name, seed), session in frame.groupby(["strategy", "seed"], sort=False):
        values = pd.to_numeric(session["val_error"], errors="coerce").astype(float)
        finite = values[values.map(math.isfinite)]
        chosen = session.loc[finite.idxmin()] if not finite.empty else pd.Series(dtype=float)
        rows[(name, seed)] = {
            "best_val": _number(chosen.get("val_error")),
            "test_selected": _number(chosen.get("test_error")),
            "test_persistence": _number(chosen.get("test_persistence")),
            "epochs_spent": int(session["epochs_spent"].max()),
            "episodes": len(session),
            "wall_s": float(session["wall_s"].iloc[0]) if "wall_s" in session else math.nan,
        }
    selected = pd.DataFrame.from_dict(rows, orient="index", columns=list(SELECTION_COLUMNS))
    selected.index = pd.MultiIndex.from_tuples(selected.index, names=["strategy", "seed"])
    return selected


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per strategy (in the frame's order): mean and sample standard deviation over seeds of each selection
    column (columns `<name>_mean`, `<name>_std`), and the number of seeds."""
    selected = select_episodes(frame)
    order = list(dict.fromkeys(selected.index.get_level_values("strategy")))
    grouped = selected.groupby(level="strategy", sort=False)
    summary = pd.DataFrame(index=pd.Index(order, name="strategy"))
    for column in SELECTION_COLUMNS:
        summary[f"{column}_mean"] = grouped[column].mean()
        summary[f"{column}_std"] = grouped[column].std(ddof=1)
    summary["seeds"] = grouped.size()
    return summary


def _mean_std(mean: float, std: float, decimals: int | None = None) -> str:
    """`mean ± std` with the same decimals; by default four significant digits of the mean."""
    if not math.isfinite(mean):
        return "-"
    if decimals is None:
        decimals = max(0, 3 - math.floor(math.log10(abs(mean)))) if mean else 3
    return f"{mean:.{decimals}f}" + (f" ± {std:.{decimals}f}" if math.isfinite(std) else "")


def summary_markdown(summary: pd.DataFrame, objective: str) -> str:
    """The summary as a markdown table: mean ± std over seeds per strategy (a column no strategy has, such
    as persistence's score for a distribution score, is left out)."""
    words = {"objective": objective, "test": objective.removeprefix("val/")}
    columns = [c for c in SUMMARY_HEADINGS if summary[f"{c}_mean"].map(math.isfinite).any()]
    headings = [SUMMARY_HEADINGS[column].format(**words) for column in columns]
    lines = ["| strategy | " + " | ".join(headings) + " |", "|---|" + "---:|" * len(headings)]
    for name, row in summary.iterrows():
        cells = [
            _mean_std(row[f"{column}_mean"], row[f"{column}_std"], COUNT_DECIMALS.get(column))
            for column in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_comparison(
    frame: pd.DataFrame, config: ExperimentConfig, strategies: list[str], out: Path, facts: dict[str, Any]
) -> dict[str, Path]:
    """Write the comparison under `out`: episodes.csv (every episode), comparison.csv and comparison.md (the
    summary), comparison.png (the figure) and comparison.json (`facts`: budget, seeds, runtime, command)."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(frame)
    paths = {
        name: out / name for name in ("episodes.csv", "comparison.csv", "comparison.md", "comparison.png")
    }
    with atomic_path(paths["episodes.csv"]) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(paths["comparison.csv"]) as tmp:
        summary.to_csv(tmp)
    with atomic_path(paths["comparison.md"]) as tmp:
        tmp.write_text(summary_markdown(summary, config.tuning.objective) + "\n", encoding="utf-8")
    figure = comparison_figure(frame, strategies, config)
    with atomic_path(paths["comparison.png"]) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    plt.close(figure)
    paths["comparison.json"] = out / "comparison.json"
    write_json(paths["comparison.json"], facts)
    return paths


def comparison_budget(config: ExperimentConfig) -> int:
    """GAN epochs per strategy and seed: tuning.budget_epochs (default episodes x epochs per episode)."""
    per_episode = config.tuning.epochs_per_episode or config.gan.epochs
    return config.tuning.budget_epochs or config.tuning.episodes * per_episode


def compare_tuning(
    config: ExperimentConfig,
    strategies: list[str],
    *,
    out: Path | None = None,
    command: str | None = None,
    console: Console | None = None,
) -> pd.DataFrame:
    """Run each strategy over `evaluation.seeds` at an equal budget of GAN epochs, print the summary (mean ±
    std over seeds of the best validation score and of the selected episode's test score) and the runtime,
    and write the tables, the figure and the facts under `out` (default runs_dir/compare/<name>)."""
    unknown = [name for name in strategies if name not in ALL_STRATEGIES] or (
        [] if strategies else ["(none)"]
    )
    if unknown:
        choices = ", ".join(ALL_STRATEGIES)
        raise ConfigError(f"--compare: unknown strategy {unknown[0]!r} (choose from {choices})")
    started = time.monotonic()
    budget = comparison_budget(config)
    seeds = list(config.evaluation.seeds)
    prepared = prepare(config)
    recorder = open_recorder(config.tracking, config.experiment_name)
    table = compare_strategies(config, strategies, seeds, budget, task=prepared.task, recorder=recorder)
    runtime = time.monotonic() - started
    facts = {
        "experiment": config.name,
        "strategies": strategies,
        "seeds": seeds,
        "budget_epochs": budget,
        "objective": config.tuning.objective,
        "runtime_s": round(runtime, 1),
        "cpus": os.cpu_count(),
        "command": command,
        "compare_run": table.attrs.get("run_id"),
    }
    folder = out or config.runs_dir / "compare" / config.name
    paths = write_comparison(table, config, strategies, folder, facts)
    (console or Console()).print(
        f"budget: {budget} GAN epochs per strategy and seed, seeds {seeds}\n"
        f"{paths['comparison.md'].read_text(encoding='utf-8')}\n"
        f"wrote {folder}/ (comparison.md, .csv, .png, .json; episodes.csv)\n"
        f"runtime: {runtime:.0f} s ({runtime / 60:.1f} min)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return table
