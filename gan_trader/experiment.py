"""Prepare an experiment's data: panel -> split -> causal features -> forecast task.

Everything fitted downstream (feature builders, scalers, models) sees rows up to the split's train_end for
fitting; validation rows are used only for early stopping, calibration and the tuning objective.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from gan_trader.config import ExperimentConfig, dump_config
from gan_trader.data.panel import Panel, build_panel
from gan_trader.evaluation.splits import Split, make_split, walk_forward
from gan_trader.features.base import BuildContext
from gan_trader.features.pipeline import FeaturePipeline, FeatureSet
from gan_trader.models.base import Forecast, ForecastTask, save_forecast

if TYPE_CHECKING:
    from gan_trader.tracking.store import Recorder

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    config: ExperimentConfig
    panel: Panel
    split: Split
    features: FeatureSet
    task: ForecastTask


def build_context(config: ExperimentConfig, panel: Panel) -> BuildContext:
    return BuildContext(
        target=config.data.target,
        seed=config.seed,
        target_kind=config.gan.target,
        news=config.data.news,
        news_timezone=config.data.news_timezone,
        cache_dir=config.features.cache_dir,
        asset_columns=tuple(panel.asset_columns),
    )


def feature_pipeline(config: ExperimentConfig, panel: Panel) -> FeaturePipeline:
    """Validate every builder's parameters (before any file is written) and return the pipeline."""
    return FeaturePipeline(config.features.builders, build_context(config, panel), config.features.cache_dir)


def load_panel(config: ExperimentConfig) -> Panel:
    # Enough rows for three spans of windows; the split check below names the short span precisely.
    return build_panel(config.data, min_rows=3 * (config.gan.seq_len + 2))


def splits(config: ExperimentConfig, panel: Panel) -> list[Split]:
    """The walk-forward folds (one fold: the chronological split) on the panel's calendar."""
    return walk_forward(panel.frame.index, config.split, min_rows=config.gan.seq_len + 2)


def prepare(
    config: ExperimentConfig,
    panel: Panel | None = None,
    split: Split | None = None,
    use_cache: bool = True,
) -> Prepared:
    """Build the forecast task for one split (default: the chronological split of the config)."""
    panel = panel or load_panel(config)
    split = split or make_split(panel.frame.index, config.split, min_rows=config.gan.seq_len + 2)
    pipeline = feature_pipeline(config, panel)
    feature_set = pipeline.fit_transform(panel.frame, split.train_end, use_cache=use_cache)
    task = ForecastTask(
        panel=panel,
        features=feature_set.features,
        split=split,
        seed=config.seed,
        target_kind=config.gan.target,
        seq_len=config.gan.seq_len,
    )
    return Prepared(config=config, panel=panel, split=split, features=feature_set, task=task)


# ---------------------------------------------------------------- running an experiment


BEST_EPISODE_TAG = "gan_trader.best_episode"


@dataclass
class ExperimentResult:
    session_id: str
    leaderboard: Any
    report_path: Path | None
    forecasts: list[Forecast]


def _log_feature_artifacts(recorder: Recorder, run_id: str, prepared: Prepared) -> None:
    feature_set = prepared.features
    recorder.log_params(
        run_id, {"features.columns": len(feature_set.columns), "split": prepared.split.describe()}
    )
    for artifact in feature_set.artifacts:
        if artifact.table is not None:
            recorder.log_table(run_id, artifact.table, f"features/{artifact.name}.csv")
        if artifact.figure is not None:
            recorder.log_figure(run_id, artifact.figure, f"features/{artifact.name}.png")
        if artifact.text:
            recorder.log_text(run_id, artifact.text, f"features/{artifact.name}.txt")
        if artifact.metrics:
            recorder.log_metrics(
                run_id, {f"features/{artifact.name}/{k}": v for k, v in artifact.metrics.items()}
            )
    if feature_set.notes:
        recorder.log_text(run_id, "\n".join(feature_set.notes) + "\n", "features/notes.txt")


def _session_dir(config: ExperimentConfig, session_id: str) -> Path:
    return Path(config.runs_dir) / "sessions" / session_id


def _episode_figures(recorder: Recorder, run_id: str | None) -> dict[str, Path]:
    """The best episode's logged plots (predicted vs real at epochs 1, 50 and the last), by name."""
    if run_id is None:
        return {}
    folder = recorder.artifact_dir(run_id) / "plots"
    return {path.stem: path for path in sorted(folder.glob("*.png"))} if folder.exists() else {}


def _resume_hint(recorder: Recorder, resume: str | None) -> None:
    """Tell the user how to continue a session stopped with Ctrl-C (the session run is marked KILLED)."""
    session_id = resume
    if session_id is None:
        from gan_trader.tracking.store import KIND_TAG

        try:
            runs = list(
                recorder.client.search_runs(
                    [recorder.experiment_id],
                    filter_string=f"tags.`{KIND_TAG}` = 'session' and attributes.status = 'KILLED'",
                    order_by=["attributes.start_time DESC"],
                    max_results=1,
                )
            )
        except Exception:  # the hint must never hide the interruption itself
            runs = []
        session_id = runs[0].info.run_id if runs else None
    if session_id is not None:
        log.warning("interrupted: session %s is saved; continue it with --resume %s", session_id, session_id)


def _baseline_names(names: list[str]) -> list[str]:
    """Check every name before any work, and put persistence first: every forecast stands beside it."""
    from gan_trader.models.baselines import baseline_class

    for name in names:
        baseline_class(name)
    return names if "persistence" in names else ["persistence", *names]


def run_experiment(
    config: ExperimentConfig,
    *,
    resume: str | None = None,
    quiet: bool = False,
    console: Console | None = None,
    baselines: list[str] | None = None,
    report: bool = True,
) -> ExperimentResult:
    """Features -> tuning session (GAN episodes) -> baselines -> leaderboard -> report, all logged.

    Config, data and feature parameters are validated before anything is written to the tracking store.
    """
    from gan_trader.evaluation.leaderboard import evaluate
    from gan_trader.models.baselines import run_baselines
    from gan_trader.tracking.store import open_recorder
    from gan_trader.tuning.session import run_session

    console = console or Console(quiet=quiet)
    names = config.evaluation.baselines if baselines is None else baselines
    names = _baseline_names(names)
    prepared = prepare(config)
    recorder = open_recorder(config.tracking, config.experiment_name)
    try:
        session = run_session(config, prepared.task, recorder, resume=resume, quiet=quiet)
    except KeyboardInterrupt:
        _resume_hint(recorder, resume)
        raise
    session_id = session.session_id
    _log_feature_artifacts(recorder, session_id, prepared)
    forecasts: list[Forecast] = []
    if session.best is not None and session.best.test_forecast is not None:
        forecasts.append(session.best.test_forecast)
    forecasts += run_baselines(
        names, prepared.task, config.seed, gan=config.gan, scaler=config.features.scaler
    )
    leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
    episodes = session.table()
    failed = [e for e in session.episodes if not e.ok]
    for episode in failed:
        log.warning("episode %d %s: %s", episode.index, episode.status, episode.reason)
    folder = _session_dir(config, session_id)
    for forecast in forecasts:
        path = folder / "forecasts" / f"{forecast.model}.npz"
        save_forecast(forecast, path)
        recorder.log_artifact(session_id, path, "forecasts")
    recorder.log_table(session_id, leaderboard.table, "leaderboard.csv")
    recorder.log_text(session_id, dump_config(config), "config.yaml")
    recorder.set_tags(session_id, {"gan_trader.verdict": leaderboard.verdict})
    if session.best is not None and session.best.run_id:
        recorder.set_tags(session_id, {BEST_EPISODE_TAG: session.best.run_id})
    report_path = None
    if report and config.evaluation.report is not None:
        from gan_trader.evaluation.report import write_report

        report_path = Path(str(config.evaluation.report).format(name=config.name, session=session_id))
        write_report(
            report_path,
            config=config,
            prepared=prepared,
            leaderboard=leaderboard,
            forecasts=forecasts,
            episodes=episodes,
            figures=_episode_figures(recorder, session.best.run_id if session.best else None),
        )
        recorder.log_artifact(session_id, report_path, "report")
    if not quiet:
        leaderboard.print(console)
        if failed:
            console.print(
                f"{len(failed)} of {len(session.episodes)} episodes failed: "
                + "; ".join(f"episode {e.index} ({e.reason})" for e in failed)
            )
        console.print(f"session: {session_id}  (gan-trader episodes list --session {session_id})")
        if report_path is not None:
            console.print(f"report: {report_path.resolve()}")
    return ExperimentResult(session_id, leaderboard, report_path, forecasts)


def run_baselines_only(
    config: ExperimentConfig, *, console: Console | None = None, quiet: bool = False
) -> Any:
    """Fit and score the configured baselines on the test days, without training the GAN."""
    from gan_trader.evaluation.leaderboard import evaluate
    from gan_trader.models.baselines import run_baselines

    names = _baseline_names(config.evaluation.baselines)
    prepared = prepare(config)
    forecasts = run_baselines(
        names, prepared.task, config.seed, gan=config.gan, scaler=config.features.scaler
    )
    leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
    if not quiet:
        leaderboard.print(console or Console())
    return leaderboard


def report_session(session: str, out: Path, tracking_uri: str) -> Path:
    """Rebuild the HTML report of a logged session from its stored config, forecasts and episodes."""
    import tempfile

    import yaml

    from gan_trader.config import validate_config
    from gan_trader.errors import TrackingError
    from gan_trader.evaluation.leaderboard import evaluate
    from gan_trader.evaluation.report import write_report
    from gan_trader.models.base import load_forecast
    from gan_trader.tracking.episodes import EpisodeBrowser

    browser = EpisodeBrowser(tracking_uri)
    run = browser.session_run(session)
    run_id = run.info.run_id
    client = browser.client
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config_path = Path(client.download_artifacts(run_id, "config.yaml", tmp))
            forecast_dir = Path(client.download_artifacts(run_id, "forecasts", tmp))
        except Exception:
            raise TrackingError(
                f"session {session}: no stored config or forecasts (did the session finish?)"
            ) from None
        config = validate_config(yaml.safe_load(config_path.read_text()), f"session {session} config.yaml")
        forecasts = [load_forecast(path) for path in sorted(forecast_dir.glob("*.npz"))]
        # The GAN's forecast leads the leaderboard, as in the run itself.
        forecasts.sort(key=lambda f: f.model == "persistence")
        prepared = prepare(config)
        leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
        best = run.data.tags.get(BEST_EPISODE_TAG)
        figures: dict[str, Path] = {}
        if best:
            try:
                plots = Path(client.download_artifacts(best, "plots", tmp))
                figures = {path.stem: path for path in sorted(plots.glob("*.png"))}
            except Exception:
                figures = {}
        return write_report(
            out,
            config=config,
            prepared=prepared,
            leaderboard=leaderboard,
            forecasts=forecasts,
            episodes=browser.episodes(run_id),
            figures=figures,
        )


def compare_tuning(config: ExperimentConfig, strategies: list[str], *, console: Console | None = None) -> Any:
    """Run each strategy over `evaluation.seeds` at an equal budget of GAN epochs and print the outcome.

    The budget is `tuning.budget_epochs` (default: episodes x epochs per episode). Per strategy: mean and
    standard deviation over seeds of the best validation error and the test error of the episode it selects.
    """
    from gan_trader.errors import ConfigError
    from gan_trader.tracking.store import open_recorder
    from gan_trader.tuning.strategies import ALL_STRATEGIES, compare_strategies

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
