"""Report assembly: the HTML report of a run just finished, or rebuilt from a logged session.

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
from gan_trader.workflow.prepare import Prepared, prepare

log = logging.getLogger(__name__)


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
    browser: EpisodeBrowser, best_run: str | None, config: ExperimentConfig, prepared: Prepared, tmp: Path
) -> Callable[[str], Forecast | None]:
    """Rebuild a session's forecast by model name: a baseline is fitted again; the GAN's test forecast is
    sampled again from the best episode's logged model.pt."""
    from gan_trader.models.wgan import GanForecaster

    def rebuild(name: str) -> Forecast | None:
        task = prepared.task
        if name in BASELINES:
            scaler = config.features.scaler
            return run_baselines([name], task, config.seed, gan=config.gan, scaler=scaler)[0]
        if not best_run:
            return None
        try:
            checkpoint = browser.download(best_run, "checkpoint/model.pt", tmp)
            model = GanForecaster.load(checkpoint, task, scaler=config.features.scaler)
        except GanTraderError as exc:
            log.warning("the GAN's forecast cannot be rebuilt: %s", exc)
            return None
        return model.predict(task, task.origins("test"))

    return rebuild


def report_session(session: str, out: Path, tracking_uri: str) -> Path:
    """Rebuild the HTML report of a logged session from its stored config, forecasts and episodes."""
    browser = EpisodeBrowser(tracking_uri)
    run = browser.session(session)
    if run.format_version != RUN_FORMAT:
        raise OutdatedFileError(
            f"session {session}: logged with {describe_version(run.format_version)}, this gan-trader reads "
            f"version {RUN_FORMAT}; rebuild its report with the gan-trader that ran it, or run it again"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config_path = browser.download(run.run_id, "config.yaml", Path(tmp))
            forecast_dir = browser.download(run.run_id, "forecasts", Path(tmp))
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
        config = validate_config(raw, f"session {session} config.yaml")
        prepared = prepare(config)
        best_run = run.tags.get(tags.BEST_RUN_TAG)
        rebuild = _forecast_rebuilder(browser, best_run, config, prepared, Path(tmp))
        forecasts = read_forecasts(forecast_dir, rebuild)
        # The GAN's forecast leads the leaderboard, as in the run itself.
        forecasts.sort(key=lambda f: f.model == "persistence")
        leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
        figures: dict[str, Path] = {}
        if best_run:
            try:
                figures = intact_figures(browser.download(best_run, "plots", Path(tmp)))
            except TrackingError:
                figures = {}
        return write_experiment_report(
            out,
            config=config,
            prepared=prepared,
            leaderboard=leaderboard,
            forecasts=forecasts,
            episodes=browser.episodes(run.run_id),
            figures=figures,
        )
