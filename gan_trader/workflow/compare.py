"""Compare tuning strategies at an equal budget of GAN epochs over several seeds (`make compare`).

Each strategy runs one session per seed with the same budget, racing included; every session draws its
episode seeds from its own stream (loop.episode_seed: by the seed and the strategy), so no two sessions share
an episode seed. A session selects a set (racing.py: the reference, the config's own hyperparameters, unless
another set beats it on fresh seeds), and the comparison reports, per strategy, the mean and standard
deviation over seeds of the selected set's validation score and test score (each the mean over the runs the
set is judged on; selection never looks at test days). Against `fixed` (the reference restarted, judged on
all its restarts): the difference of the mean test scores with its standard error (the guard: no strategy
worse by more than one), and a paired one-sided Diebold-Mariano test on the per-day test CRPS of the selected
sets, averaged over seeds per day (is the strategy better than fixed?), and a one-sided Welch t-test with the
session as the unit (restart noise, which the day-level test leaves out, is in its variance; Holm-adjusted
over the strategies, one family against one baseline). `pbt` and `pb2` spend the search's epochs as
population x rounds x interval.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from scipy import stats

from gan_trader.config import ExperimentConfig
from gan_trader.errors import ConfigError, TuningError
from gan_trader.evaluation.study import holm
from gan_trader.io import atomic_path, write_json
from gan_trader.models.base import ForecastTask
from gan_trader.tracking import tags
from gan_trader.tracking.store import Recorder, open_recorder
from gan_trader.tuning.executor import Executor
from gan_trader.tuning.racing import one_sided_dm
from gan_trader.tuning.session import SessionResult, progress_figure, run_session
from gan_trader.tuning.strategies import ALL_STRATEGIES
from gan_trader.workflow.prepare import prepare

# One row per strategy and seed: what its session selected and what it spent.
SELECTION_COLUMNS = (
    "best_val",
    "test_selected",
    "reference_val",
    "reference_test",
    "chose_other",
    "test_persistence",
    "epochs_spent",
    "episodes",
    "wall_s",
)
# The summary's columns: (column of the selection, heading, shown as mean ± std).
SUMMARY_HEADINGS = {
    "best_val": "validation {objective} of the selected set",
    "test_selected": "test {test} of the selected set",
    "chose_other": "share of seeds selecting another set than the reference",
    "test_persistence": "test {test} of persistence",
    "epochs_spent": "GAN epochs spent",
    "episodes": "episodes",
    "wall_s": "wall s per session",
}

# Decimals of the columns that are no scores (a score gets four significant digits).
COUNT_DECIMALS = {"epochs_spent": 1, "episodes": 1, "wall_s": 0, "chose_other": 2}
BASELINE = "fixed"  # what every strategy is tested against


def _session_config(config: ExperimentConfig, seed: int, budget_epochs: int) -> ExperimentConfig:
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
    figure = comparison_figure(frame, strategies, config.tuning.objective)
    recorder.log_figure(run_id, figure, "plots/best_vs_epochs.png")
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


def comparison_figure(frame: pd.DataFrame, strategies: list[str], objective: str) -> Any:
    """Best validation score against GAN epochs spent, mean over seeds, one line per strategy."""
    by_strategy = {name: frame[frame["strategy"] == name] for name in strategies}
    return progress_figure(by_strategy, objective)


def _daily_table(result: SessionResult, name: str, seed: int) -> pd.DataFrame:
    """The per-day test CRPS of a session's selected set (the mean over the runs it is judged on)."""
    daily = result.selection.daily_selected if result.selection is not None else pd.Series(dtype=float)
    return pd.DataFrame({"strategy": name, "seed": seed, "date": daily.index, "crps": daily.to_numpy(float)})


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
    episode_seed, selected / reference_run (whether the episode is one of the runs the selected set / the
    reference is judged on), session id, wall_s (the session's). `frame.attrs["daily"]` holds the per-day
    test CRPS of each session's selected set (strategy, seed, date, crps). Logs the table and the plot (best
    validation error against epochs spent, mean over seeds, one line per strategy) to a `compare` run.
    """
    unknown = [name for name in strategies if name not in ALL_STRATEGIES]
    if unknown:
        raise TuningError(
            f"tuning.strategy: unknown strategy {unknown[0]!r} (choose from {', '.join(ALL_STRATEGIES)})"
        )
    if not seeds:
        raise TuningError("evaluation.seeds: at least one seed is needed to compare strategies")
    recorder = recorder or open_recorder(config.tracking, config.experiment_name)
    tables, daily = [], []
    for seed in seeds:
        seeded = _session_config(config, seed, budget_epochs)
        seed_task = task if task is not None else prepare(seeded).task
        seed_task = seed_task if seed_task.seed == seed else dataclasses.replace(seed_task, seed=seed)
        for name in strategies:
            started = time.monotonic()
            result = run_session(seeded, seed_task, recorder, strategy=name, executor=executor, quiet=quiet)
            tables.append(_session_table(result, name, seed, time.monotonic() - started))
            daily.append(_daily_table(result, name, seed))
    frame = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    frame.attrs["daily"] = pd.concat(daily, ignore_index=True) if daily else pd.DataFrame()
    params = {"strategies": strategies, "seeds": seeds, "budget_epochs": budget_epochs}
    frame.attrs["run_id"] = _log_comparison(recorder, config, frame, strategies, params)
    return frame


def _number(value: Any) -> float:
    """A logged metric as a float; NaN when it is missing."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _mean(rows: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(rows[column], errors="coerce").astype(float)
    finite = values[values.map(math.isfinite)]
    return float(finite.mean()) if not finite.empty else math.nan


def select_episodes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and seed (the index), what its session selected: the mean validation and test scores of
    the runs the selected set is judged on (`selected`) and of the reference's (`reference_run`), whether it
    selected another set than the reference, persistence's score on the same days, and what was spent."""
    rows = {}
    for (name, seed), session in frame.groupby(["strategy", "seed"], sort=False):
        chosen = session[session["selected"].astype(bool)]
        reference = session[session["reference_run"].astype(bool)]
        rows[(name, seed)] = {
            "best_val": _mean(chosen, "val_error"),
            "test_selected": _mean(chosen, "test_error"),
            "reference_val": _mean(reference, "val_error"),
            "reference_test": _mean(reference, "test_error"),
            "chose_other": float(not chosen.empty and set(chosen.index) != set(reference.index)),
            "test_persistence": _mean(chosen, "test_persistence") if not chosen.empty else math.nan,
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


def against_fixed(frame: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per strategy against `baseline` (default `fixed`): the difference of the mean test scores of the
    selected sets (strategy less baseline; negative: better) with its standard error over seeds, whether it
    is worse by more than one standard error (the guard), and the one-sided paired Diebold-Mariano test
    (statistic, p-value, days) of "the strategy's per-day test CRPS, averaged over seeds per day, is lower
    than the baseline's".

    The difference is also split by what the strategy's sessions selected, seed by seed against the
    baseline's session of the same seed: `kept_*` over the seeds where it kept the reference (the same set
    as fixed's, so the difference is restart noise alone) and `other_*` over the seeds where it selected
    another set (what its search added). The DM test treats days as the noise: a restart's shift on every day
    is not in its variance, so a strategy that kept the reference can read as "better" on restart luck; the
    split shows how much of a difference that is."""
    selected = select_episodes(frame)
    daily = frame.attrs.get("daily")
    strategies = list(dict.fromkeys(selected.index.get_level_values("strategy")))
    rows = {}
    if baseline not in strategies:
        return pd.DataFrame(index=pd.Index([], name="strategy"))
    base = selected.loc[baseline, "test_selected"].astype(float)
    per_day = (
        daily.groupby(["strategy", "date"])["crps"].mean().unstack("strategy")
        if isinstance(daily, pd.DataFrame) and not daily.empty
        else pd.DataFrame()
    )
    for name in strategies:
        if name == baseline:
            continue
        scores = selected.loc[name, "test_selected"].astype(float)
        difference = float(scores.mean() - base.mean())
        error = math.sqrt(scores.var(ddof=1) / len(scores) + base.var(ddof=1) / len(base))
        row: dict[str, Any] = {"test_difference": difference, "test_difference_se": error}
        row |= _session_test(scores.dropna().to_numpy(float), base.dropna().to_numpy(float))
        # One seed gives no standard error: the guard is then not decided (None), neither way.
        row["worse_than_fixed"] = bool(difference > error) if math.isfinite(error) else None
        by_seed = (scores - base).dropna()
        kept = selected.loc[name, "chose_other"].reindex(by_seed.index) == 0
        for part, seeds in (("kept", by_seed[kept]), ("other", by_seed[~kept])):
            row[f"{part}_sessions"] = len(seeds)
            row[f"{part}_difference"] = float(seeds.mean()) if len(seeds) else math.nan
        if name in per_day and baseline in per_day:
            both = per_day[[name, baseline]].dropna()
            dm = one_sided_dm(both[name].to_numpy(), both[baseline].to_numpy())
            row |= {"dm_stat": dm.statistic, "dm_p_better": dm.pvalue, "dm_days": dm.n}
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    if "session_p_better" in table:  # one family: every strategy against the same baseline
        table["session_p_holm"] = holm(table["session_p_better"])
    return table


def _session_test(scores: np.ndarray, base: np.ndarray) -> dict[str, float]:
    """One-sided Welch t-test of "the strategy's sessions score lower on test than the baseline's", the
    session as the unit: each seed's selected set, judged on its own runs, is one observation, so restart
    noise is in the variance (the DM test's unit is the day, which leaves it out). NaN with under two
    sessions on either side."""
    if len(scores) < 2 or len(base) < 2:
        return {"session_t": math.nan, "session_p_better": math.nan}
    result = stats.ttest_ind(scores, base, equal_var=False, alternative="less")
    return {"session_t": float(result.statistic), "session_p_better": float(result.pvalue)}


@dataclasses.dataclass(frozen=True)
class GuardNull:
    """How often the guard flags strategies that differ from the baseline in nothing (see guard_null)."""

    restart_sd: float  # the baseline's restarts' test scores, standard deviation within a seed
    baseline_runs: int  # runs per seed the baseline is judged on
    strategy_runs: int  # runs per seed a strategy that kept the reference is judged on (median)
    seeds: int
    strategies: int
    per_strategy: float  # share of draws flagging one such strategy
    any_strategy: float  # share of draws flagging at least one of `strategies`

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in dataclasses.asdict(self).items()}


GUARD_NULL_DRAWS = 20_000


def guard_null(
    frame: pd.DataFrame, baseline: str = BASELINE, draws: int = GUARD_NULL_DRAWS, seed: int = 0
) -> GuardNull | None:
    """The guard's false-alarm rate in this comparison's design: every strategy keeps the reference (the
    baseline's set) on every seed, so the only difference is restart noise. Test scores of restarts are
    drawn normal with the baseline's pooled within-seed standard deviation; per seed the baseline is the mean
    of its runs and each strategy the mean of as many runs as the comparison's kept-reference sessions were
    judged on (median); the guard of `against_fixed` is applied to each of the comparison's strategies
    against one shared draw of the baseline. None without two seeds or a restart spread to draw from."""
    selected = frame[frame["selected"].astype(bool) & frame["test_error"].notna()]
    base = selected[selected["strategy"] == baseline]
    groups = [g["test_error"].to_numpy(float) for _, g in base.groupby("seed") if len(g) > 1]
    freedom = sum(len(g) - 1 for g in groups)
    others = [name for name in dict.fromkeys(frame["strategy"]) if name != baseline]
    if not freedom or base["seed"].nunique() < 2 or not others:
        return None
    sd = math.sqrt(sum(float(((g - g.mean()) ** 2).sum()) for g in groups) / freedom)
    choices = select_episodes(frame)["chose_other"]
    kept = selected[selected["strategy"].isin(others)].groupby(["strategy", "seed"]).size()
    kept = kept[[choices.get(key, 1.0) == 0 for key in kept.index]]
    strategy_runs = int(np.median(kept)) if len(kept) else int(base.groupby("seed").size().median())
    baseline_runs = int(base.groupby("seed").size().median())
    seeds = int(base["seed"].nunique())
    rng = np.random.default_rng(seed)
    fixed = rng.normal(0.0, sd, (draws, 1, seeds, baseline_runs)).mean(axis=-1)
    tuned = rng.normal(0.0, sd, (draws, len(others), seeds, strategy_runs)).mean(axis=-1)
    difference = tuned.mean(axis=-1) - fixed.mean(axis=-1)
    error = np.sqrt(tuned.var(axis=-1, ddof=1) / seeds + fixed.var(axis=-1, ddof=1) / seeds)
    flagged = difference > error
    return GuardNull(
        sd,
        baseline_runs,
        strategy_runs,
        seeds,
        len(others),
        float(flagged.mean()),
        float(flagged.any(1).mean()),
    )


def _flag(value: Any) -> bool | None:
    """A guard flag read back from a table (numpy or Python bool, or None / NaN: not decided)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def findings(frame: pd.DataFrame) -> dict[str, Any]:
    """The targets, as the comparison answers them: the strategies whose selected sets are worse on test than
    fixed's by more than one standard error (the guard), rl against fixed and against optuna (one-sided DM
    p-values; the moonshot), how many sessions selected another set than the reference, the guard's
    false-alarm rate in this design (`guard_null`) and rl's difference on the seeds it kept the reference
    (`rl_kept`: restart noise, which the DM test does not see)."""
    selected = select_episodes(frame)
    tests = against_fixed(frame)
    found: dict[str, Any] = {
        "worse_than_fixed": [str(name) for name, row in tests.iterrows() if _flag(row["worse_than_fixed"])],
        "guard_decided": bool(len(tests)) and all(_flag(v) is not None for v in tests["worse_than_fixed"]),
        "sessions": len(selected),
        "chose_other": int(selected["chose_other"].sum()),
    }
    null = guard_null(frame)
    if null is not None:
        found["guard_null"] = null.to_dict()
    if "rl" in tests.index and "kept_difference" in tests:
        found["rl_kept"] = {
            "sessions": int(tests.loc["rl", "kept_sessions"]),
            "difference": _number(tests.loc["rl", "kept_difference"]),
        }
    versus_optuna = against_fixed(frame, baseline="optuna")
    for against, table in (("fixed", tests), ("optuna", versus_optuna)):
        if "rl" in table.index and "dm_p_better" in table:
            found[f"rl_vs_{against}_p"] = _number(table.loc["rl", "dm_p_better"])
        if "rl" in table.index and "session_p_better" in table:
            found[f"rl_vs_{against}_session_p"] = _number(table.loc["rl", "session_p_better"])
    return found


def _split(row: pd.Series, part: str) -> str:
    """`n: difference` of the seeds where a strategy kept the reference (`kept`) or selected another set."""
    count = row.get(f"{part}_sessions", math.nan)
    value = row.get(f"{part}_difference", math.nan)
    if not math.isfinite(count):
        return "-"
    return f"{int(count)}: {value:+.4f}" if math.isfinite(value) else f"{int(count)}"


def against_fixed_markdown(table: pd.DataFrame, objective: str) -> str:
    """The tests against fixed as a markdown table."""
    test = objective.removeprefix("val/")
    lines = [
        f"| strategy | test {test}: strategy − fixed (± 1 SE) | worse than fixed by > 1 SE | "
        "seeds keeping the reference: strategy − fixed | seeds selecting another set: strategy − fixed | "
        "DM statistic (per-day CRPS, mean over seeds) | one-sided p (better than fixed) | "
        "one-sided p over sessions (Welch t; Holm over the strategies) |",
        "|---|---:|:---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in table.iterrows():
        if not math.isfinite(row["test_difference"]):
            difference = "-"
        elif math.isfinite(row["test_difference_se"]):
            difference = f"{row['test_difference']:+.4f} ± {row['test_difference_se']:.4f}"
        else:
            difference = f"{row['test_difference']:+.4f}"
        flag = _flag(row["worse_than_fixed"])
        worse = "n/a (one seed)" if flag is None else "yes" if flag else "no"
        stat = row.get("dm_stat", math.nan)
        p = row.get("dm_p_better", math.nan)
        dm = f"{stat:.2f} ({int(row['dm_days'])} days)" if math.isfinite(stat) else "-"
        shown = f"{p:.3g}" if math.isfinite(p) else "-"
        session, adjusted = row.get("session_p_better", math.nan), row.get("session_p_holm", math.nan)
        by_session = f"{session:.3g} (Holm {adjusted:.2g})" if math.isfinite(session) else "-"
        lines.append(
            f"| {name} | {difference} | {worse} | {_split(row, 'kept')} | {_split(row, 'other')} | {dm} "
            f"| {shown} | {by_session} |"
        )
    return "\n".join(lines)


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
    frame: pd.DataFrame, objective: str, strategies: list[str], out: Path, facts: dict[str, Any]
) -> dict[str, Path]:
    """Write the comparison under `out`: episodes.csv (every episode), daily.csv (the selected sets' per-day
    test CRPS), comparison.csv and comparison.md (the summary and the tests against fixed), comparison.png
    (the figure) and comparison.json (`facts`: budget, seeds, runtime, command)."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(frame)
    tests = against_fixed(frame)
    names = ("episodes.csv", "daily.csv", "comparison.csv", "comparison.md", "comparison.png")
    paths = {name: out / name for name in names}
    with atomic_path(paths["episodes.csv"]) as tmp:
        frame.to_csv(tmp, index=False)
    daily = frame.attrs.get("daily")
    with atomic_path(paths["daily.csv"]) as tmp:
        (daily if isinstance(daily, pd.DataFrame) else pd.DataFrame()).to_csv(tmp, index=False)
    with atomic_path(paths["comparison.csv"]) as tmp:
        summary.join(tests).to_csv(tmp)
    markdown = summary_markdown(summary, objective)
    if not tests.empty:
        markdown += "\n\n" + against_fixed_markdown(tests, objective)
    with atomic_path(paths["comparison.md"]) as tmp:
        tmp.write_text(markdown + "\n", encoding="utf-8")
    figure = comparison_figure(frame, strategies, objective)
    with atomic_path(paths["comparison.png"]) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    plt.close(figure)
    paths["comparison.json"] = out / "comparison.json"
    write_json(paths["comparison.json"], facts)
    return paths


def _json_safe(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in found.items()}


def recompute_comparison(folder: Path) -> dict[str, Path]:
    """Rewrite a written comparison's tables, figure and findings from its own episodes.csv and daily.csv
    (what the sessions logged; nothing is trained again), keeping the facts of the run (command, budget,
    seeds, runtime). For a comparison written before a table or finding was added."""
    facts_path = folder / "comparison.json"
    for path in (folder / "episodes.csv", folder / "daily.csv", facts_path):
        if not path.exists():
            raise ConfigError(f"{path}: not found; run the comparison (`make compare`) first")
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    frame = pd.read_csv(folder / "episodes.csv")
    frame.attrs["daily"] = pd.read_csv(folder / "daily.csv", parse_dates=["date"])
    facts["findings"] = _json_safe(findings(frame))
    return write_comparison(frame, facts["objective"], list(facts["strategies"]), folder, facts)


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
    answers = findings(table)
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
        "findings": _json_safe(answers),
    }
    folder = out or config.runs_dir / "compare" / config.name
    paths = write_comparison(table, config.tuning.objective, strategies, folder, facts)
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
