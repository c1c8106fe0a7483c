"""Report assembly: the HTML report of a run just finished, or rebuilt from a logged session."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gan_trader.config import ExperimentConfig, validate_config
from gan_trader.errors import TrackingError
from gan_trader.evaluation.leaderboard import Leaderboard, evaluate
from gan_trader.evaluation.report import ReportData, write_report
from gan_trader.models.base import Forecast, load_forecast
from gan_trader.tracking import tags
from gan_trader.tracking.episodes import EpisodeBrowser
from gan_trader.tracking.store import Recorder
from gan_trader.workflow.prepare import Prepared, prepare


def episode_figures(recorder: Recorder, run_id: str | None) -> dict[str, Path]:
    """The best episode's logged plots (predicted vs real at epochs 1, 50 and the last), by name."""
    if run_id is None:
        return {}
    folder = recorder.artifact_dir(run_id) / "plots"
    return {path.stem: path for path in sorted(folder.glob("*.png"))} if folder.exists() else {}


def write_experiment_report(
    path: Path,
    *,
    config: ExperimentConfig,
    prepared: Prepared,
    leaderboard: Leaderboard,
    forecasts: Sequence[Forecast],
    episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None,
    figures: Mapping[str, Path],
) -> Path:
    return write_report(
        path,
        config=config,
        data=ReportData(prepared.task, prepared.features),
        leaderboard=leaderboard,
        forecasts=forecasts,
        episodes=episodes,
        figures=figures,
    )


def report_session(session: str, out: Path, tracking_uri: str) -> Path:
    """Rebuild the HTML report of a logged session from its stored config, forecasts and episodes."""
    browser = EpisodeBrowser(tracking_uri)
    run = browser.session(session)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config_path = browser.download(run.run_id, "config.yaml", Path(tmp))
            forecast_dir = browser.download(run.run_id, "forecasts", Path(tmp))
        except TrackingError:
            raise TrackingError(
                f"session {session}: no stored config or forecasts (did the session finish?)"
            ) from None
        config = validate_config(yaml.safe_load(config_path.read_text()), f"session {session} config.yaml")
        forecasts = [load_forecast(path) for path in sorted(forecast_dir.glob("*.npz"))]
        # The GAN's forecast leads the leaderboard, as in the run itself.
        forecasts.sort(key=lambda f: f.model == "persistence")
        prepared = prepare(config)
        leaderboard = evaluate(prepared.task, forecasts, config.evaluation)
        figures: dict[str, Path] = {}
        best_run = run.tags.get(tags.BEST_RUN_TAG)
        if best_run:
            try:
                plots = browser.download(best_run, "plots", Path(tmp))
                figures = {path.stem: path for path in sorted(plots.glob("*.png"))}
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
