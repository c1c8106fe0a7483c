"""Report assembly: the HTML report of a run just finished, or rebuilt from a logged session.

Both go through the same steps, so `gan-trader report SESSION` writes the report `run` wrote: the pooled
leaderboard scored again on the last fold's task from the logged forecasts (in the logged leaderboard's row
order, so the headline is the same model's verdict), the folds view from the logged per-fold table, the
tuning's selection line as logged, and the session's episodes as the store holds them.

What a logged session left is read back with care: a forecast file that cannot be read back is derived data
and is rebuilt (a baseline is fitted again, the GAN's is sampled again from the best episode's model.pt), a
damaged plot is left out with a warning, and a session logged by another format version, or whose logged
config cannot be read, is a one-line error.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gan_trader.config import ExperimentConfig, validate_config
from gan_trader.errors import DamagedFileError, GanTraderError, OutdatedFileError, TrackingError
from gan_trader.evaluation.leaderboard import Leaderboard, evaluate
from gan_trader.evaluation.report import FoldsView, ReportData, write_report
from gan_trader.io import RUN_FORMAT, describe_version
from gan_trader.models.base import Forecast, load_forecast
from gan_trader.models.baselines import BASELINES, run_baselines
from gan_trader.tracking import tags
from gan_trader.tracking.episodes import EpisodeBrowser
from gan_trader.tracking.store import Recorder
from gan_trader.tuning.episode import REFIT_INDEX
from gan_trader.workflow.folds import FOLD_COLUMNS, baseline_factories, run_folds, seed_summary
from gan_trader.workflow.prepare import Prepared, fold_splits, load_panel, prepare

log = logging.getLogger(__name__)


# What a run logs with its session for the report (besides config.yaml, leaderboard.csv and forecasts/).
FOLDS_FILE = "folds.csv"  # one row per (fold, seed, model): FOLD_COLUMNS on the fold's test days
JOBS_FILE = "fold_jobs.csv"  # one row per fold job: its models, seconds and process (FoldsEvaluation.jobs)
DRIFT_FILE = "drift.csv"  # one row per feature: evaluation.drift.DriftReport.table
SELECTION_FILE = "selection.txt"  # the tuning's many tries: DSR and PBO of the selected episode
NOTES_FILE = "leaderboard_notes.txt"  # what a row is where its name does not say it all (the gan row)


def folds_view(table: pd.DataFrame, folds: int, seeds: int, drift: pd.DataFrame | None = None) -> FoldsView:
    """The walk-forward view from the per-fold table (as the run holds it, or as it logged it): the table,
    the mean +- sd over the fold x seed runs of its scores, and the features' drift table when known."""
    table = table.reset_index(drop=True).copy()
    scores = [c for c in FOLD_COLUMNS if c in table.columns]
    for column in scores:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    if "test_from" in table:
        table["test_from"] = table["test_from"].astype(str)
    runs = [group.set_index("model")[scores] for _, group in table.groupby(["fold", "seed"], sort=True)]
    summary = seed_summary(runs) if runs else pd.DataFrame()
    summary = summary[[c for c in scores if c in summary.columns.get_level_values(0)]] if runs else summary
    note = (
        f"{folds} expanding-window folds x {seeds} seed(s); every feature builder, baseline and the GAN "
        "refitted per fold. The tuning session ran on fold 0's validation span; its selected "
        "hyperparameters are refitted on every fold. The leaderboards above pool all folds' test days "
        f"(first seed); below, mean and sd over the {folds * seeds} fold x seed runs."
    )
    return FoldsView(table, summary, note, drift)


def tuning_episodes(browser: EpisodeBrowser, session: str) -> pd.DataFrame:
    """The session's tuning episodes as the store holds them (the per-fold refits left out), indexed by
    episode index: status, action, epochs, the objective's validation and test score, reward, failure."""
    frame = browser.episodes(session)
    if frame.empty or "index" not in frame:
        return frame
    frame = frame[frame["index"] < REFIT_INDEX]
    return frame.set_index(frame["index"].astype(int).rename("episode")).drop(columns=["index"])


def intact_figures(folder: Path) -> dict[str, Path]:
    """The PNG plots in `folder` by name; a damaged one is left out with a warning (it cannot be redrawn
    without training the episode again)."""
    from PIL import Image

    figures = {}
    for path in sorted(folder.glob("*.png")):
        try:
            with Image.open(path) as image:
                image.verify()
        except Exception as exc:  # Pillow raises many types for a truncated or overwritten image
            log.warning("plot %s cannot be read back (%s); left out of the report", path, type(exc).__name__)
            continue
        figures[path.stem] = path
    return figures


class FetchedFigures(dict[str, Path]):
    """Plots by name, downloaded into a temporary folder that is removed with this mapping."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="gan-trader-plots-")


def episode_figures(recorder: Recorder, run_id: str | None) -> dict[str, Path]:
    """The best episode's logged plots (predicted vs real at epochs 1, 50 and the last), by name: its
    `plots/` folder alone is downloaded (never its checkpoints), from a local store or a tracking server."""
    if run_id is None:
        return {}
    figures = FetchedFigures()
    try:
        folder = recorder.download(run_id, "plots", Path(figures.folder.name))
    except TrackingError:  # an episode that logged no plots
        return {}
    figures.update(intact_figures(folder))
    return figures


def read_forecasts(folder: Path, rebuild: Callable[[str], Forecast | None]) -> list[Forecast]:
    """The forecasts saved in `folder` (one .npz per model); one that cannot be read back is rebuilt by
    `rebuild(model name)` with a warning, or left out when it cannot be."""
    forecasts = []
    for path in sorted(folder.glob("*.npz")):
        try:
            forecasts.append(load_forecast(path))
            continue
        except Exception as exc:  # numpy and zipfile raise many types for a damaged file
            log.warning("forecast %s cannot be read back (%s); rebuilding it", path, type(exc).__name__)
        rebuilt = rebuild(path.stem)
        if rebuilt is None:
            log.warning("forecast %s cannot be rebuilt; the report leaves %s out", path, path.stem)
        else:
            forecasts.append(rebuilt)
    return forecasts


def write_experiment_report(
    path: Path,
    *,
    config: ExperimentConfig,
    prepared: Prepared,
    leaderboard: Leaderboard,
    forecasts: Sequence[Forecast],
    episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None,
    figures: Mapping[str, Path],
    folds: FoldsView | None = None,
    selection: str | None = None,
) -> Path:
    return write_report(
        path,
        config=config,
        data=ReportData(prepared.task, prepared.features),
        leaderboard=leaderboard,
        forecasts=forecasts,
        episodes=episodes,
        figures=figures,
        folds=folds,
        selection=selection,
    )


def _forecast_rebuilder(
    browser: EpisodeBrowser,
    best_run: str | None,
    config: ExperimentConfig,
    prepared: Prepared,
    folds: int,
    tmp: Path,
) -> Callable[[str], Forecast | None]:
    """Rebuild a session's forecast by model name: a baseline is fitted again (on every fold, as the run
    did); the GAN's test forecast of a single split is sampled again from the best episode's logged model.pt
    (refitted per fold, it came from the refits' models: it cannot be rebuilt from one)."""
    from gan_trader.models.wgan import GanForecaster

    def rebuild(name: str) -> Forecast | None:
        task = prepared.task
        if name in BASELINES:
            if folds > 1:
                return run_folds(config, baseline_factories([name]), panel=prepared.panel).forecasts[0]
            scaler = config.features.scaler
            return run_baselines([name], task, config.seed, gan=config.gan, scaler=scaler)[0]
        if not best_run or folds > 1:
            return None
        try:
            checkpoint = browser.download(best_run, "checkpoint/model.pt", tmp)
            model = GanForecaster.load(checkpoint, task, scaler=config.features.scaler)
        except GanTraderError as exc:
            log.warning("the GAN's forecast cannot be rebuilt: %s", exc)
            return None
        return model.predict(task, task.origins("test"))

    return rebuild


def _optional(browser: EpisodeBrowser, run_id: str, name: str, folder: Path) -> Path | None:
    """A logged artifact of the session, or None when this session did not log it."""
    try:
        return browser.download(run_id, name, folder)
    except TrackingError:
        return None


def _in_logged_order(forecasts: list[Forecast], leaderboard: Path | None) -> list[Forecast]:
    """The forecasts in the logged leaderboard's row order (the order the run scored them in, whose first
    model besides persistence gives the headline); without one, persistence last."""
    if leaderboard is None:
        return sorted(forecasts, key=lambda f: f.model == "persistence")
    order = {str(model): i for i, model in enumerate(pd.read_csv(leaderboard, index_col=0).index)}
    return sorted(forecasts, key=lambda f: order.get(f.model, len(order)))


def session_files(
    browser: EpisodeBrowser, run_id: str, session: str, folder: Path
) -> tuple[ExperimentConfig, Path]:
    """A finished session's logged config (validated) and its forecasts folder, downloaded into `folder`;
    a missing or unreadable one is named, never a traceback."""
    try:
        config_path = browser.download(run_id, "config.yaml", folder)
        forecast_dir = browser.download(run_id, "forecasts", folder)
    except TrackingError:
        raise TrackingError(
            f"session {session}: no stored config or forecasts (did the session finish?)"
        ) from None
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DamagedFileError(
            f"session {session}: its logged config.yaml cannot be read back ({type(exc).__name__}); "
            "run the experiment again"
        ) from None
    return validate_config(raw, f"session {session} config.yaml"), forecast_dir


def report_session(session: str, out: Path, tracking_uri: str) -> Path:
    """Rebuild the HTML report of a logged session: the same report `run` wrote for it."""
    browser = EpisodeBrowser(tracking_uri)
    run = browser.session(session)
    if run.format_version != RUN_FORMAT:
        raise OutdatedFileError(
            f"session {session}: logged with {describe_version(run.format_version)}, this gan-trader reads "
            f"version {RUN_FORMAT}; rebuild its report with the gan-trader that ran it, or run it again"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, forecast_dir = session_files(browser, run.run_id, session, folder)
        panel = load_panel(config)
        splits = fold_splits(config, panel)
        first = prepare(config, panel, splits[0])
        # The pooled leaderboard is scored on the last fold's task: it covers every fold's test days.
        pooled = first if len(splits) == 1 else prepare(config, panel, splits[-1])
        best_run = run.tags.get(tags.BEST_RUN_TAG)
        rebuild = _forecast_rebuilder(browser, best_run, config, pooled, len(splits), folder)
        forecasts = _in_logged_order(
            read_forecasts(forecast_dir, rebuild), _optional(browser, run.run_id, "leaderboard.csv", folder)
        )
        leaderboard = evaluate(pooled.task, forecasts, config.evaluation)
        folds_file = _optional(browser, run.run_id, FOLDS_FILE, folder)
        drift_file = _optional(browser, run.run_id, DRIFT_FILE, folder)
        drift = pd.read_csv(drift_file, index_col=0) if drift_file is not None else None
        folds = None
        if folds_file is not None:
            table = pd.read_csv(folds_file, index_col=0)
            folds = folds_view(table, int(table["fold"].nunique()), int(table["seed"].nunique()), drift)
        selection_file = _optional(browser, run.run_id, SELECTION_FILE, folder)
        selection = selection_file.read_text(encoding="utf-8").strip() if selection_file else None
        figures: dict[str, Path] = {}
        if best_run:
            try:
                figures = intact_figures(browser.download(best_run, "plots", folder))
            except TrackingError:
                figures = {}
        return write_experiment_report(
            out,
            config=config,
            prepared=first,
            leaderboard=leaderboard,
            forecasts=forecasts,
            episodes=tuning_episodes(browser, run.run_id),
            figures=figures,
            folds=folds,
            selection=selection,
        )
