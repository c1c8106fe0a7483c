"""Run an experiment: features -> tuning session (GAN episodes) -> baselines -> leaderboard -> report.

Config, data and feature parameters are validated before anything is written to the tracking store; every
result is logged through the Recorder, so a killed run keeps what it had logged and can be resumed.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from gan_trader.config import ExperimentConfig, GanConfig, dump_config
from gan_trader.evaluation.leaderboard import Leaderboard, evaluate
from gan_trader.evaluation.report import FoldsView
from gan_trader.models.base import Forecast, ForecastTask, save_forecast
from gan_trader.models.baselines import baseline_class, run_baselines
from gan_trader.tracking import tags
from gan_trader.tracking.episodes import EpisodeBrowser
from gan_trader.tracking.store import Recorder, open_recorder
from gan_trader.tuning.episode import REFIT_INDEX, EpisodeSpec
from gan_trader.tuning.executor import (
    EpisodeJob,
    LocalExecutor,
    absolute_paths,
    execute_episode,
    make_executor,
)
from gan_trader.tuning.session import SessionResult, run_session
from gan_trader.workflow.folds import FoldRows, FoldsEvaluation, RowJob, evaluate_folds
from gan_trader.workflow.prepare import Prepared, fold_splits, load_panel, prepare
from gan_trader.workflow.report import (
    DRIFT_FILE,
    FOLDS_FILE,
    JOBS_FILE,
    NOTES_FILE,
    SELECTION_FILE,
    episode_figures,
    folds_view,
    tuning_episodes,
    write_experiment_report,
)
from gan_trader.workflow.selection import session_selection

log = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    session_id: str
    leaderboard: Leaderboard
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


def session_folder(config: ExperimentConfig, session_id: str) -> Path:
    return Path(config.runs_dir) / "sessions" / session_id


def _resume_hint(recorder: Recorder, resume: str | None) -> None:
    """Tell the user how to continue a session stopped with Ctrl-C (the session run is marked KILLED)."""
    session_id = resume
    if session_id is None:
        try:
            killed = recorder.runs(kind="session", status="KILLED", newest_first=True, limit=1)
        except Exception:  # the hint must never hide the interruption itself
            killed = []
        session_id = killed[0].run_id if killed else None
    if session_id is not None:
        log.warning("interrupted: session %s is saved; continue it with --resume %s", session_id, session_id)


def baseline_names(names: list[str]) -> list[str]:
    """Check every name before any work, and put persistence first: every forecast stands beside it."""
    for name in names:
        baseline_class(name)
    return names if "persistence" in names else ["persistence", *names]


def _log_results(
    recorder: Recorder,
    config: ExperimentConfig,
    session_id: str,
    forecasts: list[Forecast],
    leaderboard: Leaderboard,
) -> None:
    folder = session_folder(config, session_id)
    for forecast in forecasts:
        path = folder / "forecasts" / f"{forecast.model}.npz"
        save_forecast(forecast, path)
        recorder.log_artifact(session_id, path, "forecasts")
    recorder.log_table(session_id, leaderboard.table, "leaderboard.csv")
    recorder.log_text(session_id, dump_config(config), "config.yaml")
    recorder.set_tags(session_id, {tags.VERDICT_TAG: leaderboard.verdict})


def _print_summary(
    console: Console, session: SessionResult, leaderboard: Leaderboard, report_path: Path | None
) -> None:
    leaderboard.print(console)
    failed = [e for e in session.episodes if not e.ok]
    if failed:
        console.print(
            f"{len(failed)} of {len(session.episodes)} episodes failed: "
            + "; ".join(f"episode {e.index} ({e.reason})" for e in failed)
        )
    console.print(f"session: {session.session_id}  (gan-trader episodes list --session {session.session_id})")
    if report_path is not None:
        console.print(f"report: {report_path.resolve()}")


def result_line(session_id: str, report_path: Path | None) -> str:
    """What `-q` prints, and all it prints: the session id and the report's path, on one line."""
    report = f"  report: {report_path.resolve()}" if report_path is not None else ""
    return f"session: {session_id}{report}"


@dataclass
class GanRefit:
    """The selected set refitted on one fold and seed: an episode of the session (action "refit"), run in
    this process or in a worker, which opens its own recorder."""

    job: EpisodeJob
    task: ForecastTask

    def __call__(self) -> list[Forecast]:
        result = execute_episode(self.job, self.task)
        if not result.ok or result.test_forecast is None:
            log.warning("the GAN's %s failed: %s", self.job.spec.action, result.reason)
            return []
        return [result.test_forecast, *result.test_forecast.ablations]


@dataclass
class BaselineRow:
    """One baseline fitted on a fold's task and seed, its test days forecast."""

    name: str
    task: ForecastTask
    seed: int
    gan: GanConfig
    scaler: str

    def __call__(self) -> list[Forecast]:
        return run_baselines([self.name], self.task, self.seed, gan=self.gan, scaler=self.scaler)


def _forecasts(forecasts: list[Forecast]) -> list[Forecast]:
    return forecasts


def fold_rows(
    config: ExperimentConfig, recorder: Recorder, session: SessionResult, first: Prepared, names: list[str]
) -> FoldRows:
    """A fold's leaderboard rows for a seed: the GAN's selected set refitted on that fold (fold 0 with the
    session's seed reuses the selected episode), then every baseline, each one job."""
    best = session.best
    seeds = config.evaluation_seeds
    folder = session_folder(config, session.session_id) / "refits"
    shipped = absolute_paths(config)  # workers may start elsewhere: they log where this run logs

    def gan(prepared: Prepared, seed: int) -> list[RowJob]:
        fold = prepared.split.fold
        if best is None:
            return []
        if prepared is first and seed == config.seed and best.test_forecast is not None:
            chosen = best.test_forecast
            return [functools.partial(_forecasts, [chosen, *chosen.ablations])]
        spec = EpisodeSpec.fresh(
            REFIT_INDEX + 100 * fold + seeds.index(seed),
            best.hyperparameters,
            epochs=max(best.total_epochs, 1),
            seed=seed,
            checkpoint_dir=(folder / f"fold{fold}-seed{seed}").resolve(),
            action=f"refit fold {fold} seed {seed}",
        )
        tracking, experiment = recorder.tracking, recorder.experiment_name
        job = EpisodeJob(
            shipped, tracking, experiment, session.session_id, spec, config.executor.torch_threads
        )
        return [GanRefit(job, prepared.task)]

    def rows(prepared: Prepared, seed: int) -> list[RowJob]:
        baselines = [
            BaselineRow(name, prepared.task, seed, config.gan, config.features.scaler) for name in names
        ]
        return [*gan(prepared, seed), *baselines]

    return rows


def _log_drift(recorder: Recorder, session_id: str, evaluation: FoldsEvaluation) -> None:
    """The feature-drift table and its summary metrics; one warning line when a feature drifts too far."""
    drift = evaluation.drift
    recorder.log_table(session_id, drift.table, DRIFT_FILE)
    recorder.log_metrics(session_id, drift.metrics())
    warning = drift.warning()
    if warning is not None:
        log.warning(warning)


WALL_METRIC = "run/wall_seconds"  # a session run's metric: the whole `run`, from loading data to the report


@dataclass
class ReportParts:
    """What the experiment's report shows beside the config, the session and its figures."""

    prepared: Prepared
    leaderboard: Leaderboard
    forecasts: list[Forecast]
    folds: FoldsView
    selection: str


def _write_report(
    config: ExperimentConfig, recorder: Recorder, session: SessionResult, parts: ReportParts
) -> Path:
    """The HTML report of a run, written to evaluation.report and logged with the session. The episodes
    are read back from the store, as `gan-trader report` reads them, so both write the same report."""
    path = Path(str(config.evaluation.report).format(name=config.name, session=session.session_id))
    write_experiment_report(
        path,
        config=config,
        prepared=parts.prepared,
        leaderboard=parts.leaderboard,
        forecasts=parts.forecasts,
        episodes=tuning_episodes(EpisodeBrowser(config.tracking.uri), session.session_id),
        figures=episode_figures(recorder, session.best.run_id if session.best else None),
        folds=parts.folds,
        selection=parts.selection,
    )
    recorder.log_artifact(session.session_id, path, "report")
    return path


def run_experiment(
    config: ExperimentConfig,
    *,
    resume: str | None = None,
    quiet: bool = False,
    console: Console | None = None,
    baselines: list[str] | None = None,
    report: bool = True,
) -> ExperimentResult:
    """Tuning session on fold 0 -> the selected GAN and every baseline refitted per walk-forward fold and
    seed -> pooled leaderboards, per-fold results, the tuning's multiple testing -> report, all logged."""
    started = time.perf_counter()
    console = console or Console()
    names = baseline_names(config.evaluation.baselines if baselines is None else baselines)
    panel = load_panel(config)
    first = prepare(config, panel, fold_splits(config, panel)[0])
    recorder = open_recorder(config.tracking, config.experiment_name)
    # Local workers start once, for the session's episodes and the folds' jobs; a Ray session makes (and
    # first checks) its own executor, and the folds then run in this process.
    executor = make_executor(config) if config.executor.kind == "local" else None
    try:
        try:
            session = run_session(config, first.task, recorder, executor=executor, resume=resume, quiet=quiet)
        except KeyboardInterrupt:
            _resume_hint(recorder, resume)
            raise
        _log_feature_artifacts(recorder, session.session_id, first)
        for episode in session.episodes:
            if not episode.ok:
                log.warning("episode %d %s: %s", episode.index, episode.status, episode.reason)
        rows = fold_rows(config, recorder, session, first, names)
        pool = executor.pool if isinstance(executor, LocalExecutor) else None
        evaluation = evaluate_folds(config, panel, rows, config.evaluation_seeds, first=first, pool=pool)
    finally:
        if executor is not None:
            executor.close()
    session_id = session.session_id
    seeds = config.evaluation_seeds
    leaderboard = evaluation.leaderboard
    forecasts = evaluation.runs[seeds[0]].forecasts
    selection = session_selection(first.task, session.episodes, session.best, config).describe()
    if session.selection is not None:  # what the tuning selected, against the reference set
        selection += f"; the session {session.selection.describe()}"
    drift = evaluation.drift.table
    view = folds_view(evaluation.fold_table(), len(evaluation.splits), len(evaluation.seeds), drift)
    _log_results(recorder, config, session_id, forecasts, leaderboard)
    recorder.log_table(session_id, view.table, FOLDS_FILE)
    recorder.log_table(session_id, evaluation.jobs, JOBS_FILE)
    _log_drift(recorder, session_id, evaluation)
    recorder.log_text(
        session_id, "\n".join([*leaderboard.comparison_lines(), selection]) + "\n", "comparisons.txt"
    )
    recorder.log_text(session_id, selection + "\n", SELECTION_FILE)
    if leaderboard.notes:
        recorder.log_text(session_id, "\n".join(leaderboard.notes.values()) + "\n", NOTES_FILE)
    report_path = None
    if report and config.evaluation.report is not None:
        parts = ReportParts(first, leaderboard, forecasts, view, selection)
        report_path = _write_report(config, recorder, session, parts)
    recorder.log_metrics(session_id, {WALL_METRIC: time.perf_counter() - started})
    if not quiet:
        _print_summary(console, session, leaderboard, report_path)
        console.print(f"{view.note.split(';')[0]}; {selection}")
    else:
        console.print(result_line(session_id, report_path), soft_wrap=True, markup=False, highlight=False)
    return ExperimentResult(session_id, leaderboard, report_path, forecasts)


def run_baselines_only(
    config: ExperimentConfig, *, console: Console | None = None, quiet: bool = False
) -> Leaderboard:
    """Fit and score the configured baselines on the test days, without training the GAN."""
    names = baseline_names(config.evaluation.baselines)
    prepared = prepare(config)
    forecasts = run_baselines(
        names, prepared.task, config.seed, gan=config.gan, scaler=config.features.scaler
    )
    leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
    if not quiet:
        leaderboard.print(console or Console())
    return leaderboard
