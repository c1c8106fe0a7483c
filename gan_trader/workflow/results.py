"""A logged experiment read back from the tracking store as pandas frames (the study's are in
`workflow.study.results`).

    from gan_trader.workflow.results import open_experiment
    run = open_experiment()                      # the newest finished session (any experiment)
    run.leaderboard                              # one row per model: every score of the pooled test days
    run.folds                                    # per fold and seed: the main scores
    run.per_day()                                # per-day fair CRPS, one column per sampling model
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig
from gan_trader.errors import TrackingError
from gan_trader.models.base import Forecast, load_forecast
from gan_trader.models.scoring import crps_fair
from gan_trader.tracking.episodes import EpisodeBrowser
from gan_trader.workflow.prepare import load_panel
from gan_trader.workflow.report import session_files


@dataclass
class ExperimentResults:
    """A finished session's tables and forecasts, and the target's closes to score them against."""

    session_id: str
    config: ExperimentConfig
    leaderboard: pd.DataFrame
    folds: pd.DataFrame | None
    drift: pd.DataFrame | None
    forecasts: list[Forecast]
    close: pd.Series

    def realised(self, forecast: Forecast) -> np.ndarray:
        """The log returns the forecast's days realised."""
        return np.log(
            self.close.loc[forecast.target_dates].to_numpy(float)
            / self.close.loc[forecast.origins].to_numpy(float)
        )

    def per_day(self) -> pd.DataFrame:
        """Fair CRPS per test day (index: the forecast's day) of every model that gave a distribution."""
        columns = {}
        for forecast in self.forecasts:
            if forecast.samples is None or np.ndim(forecast.samples) != 2 or forecast.samples.shape[1] < 2:
                continue
            crps = crps_fair(self.realised(forecast), np.asarray(forecast.samples, float))
            columns[forecast.model] = pd.Series(crps, index=forecast.target_dates)
        return pd.DataFrame(columns)


def _table(browser: EpisodeBrowser, run_id: str, name: str, folder: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(browser.download(run_id, name, folder))
    except TrackingError:
        return None


def open_experiment(
    session: str | None = None, experiment: str | None = None, tracking_uri: str = "sqlite:///runs/mlflow.db"
) -> ExperimentResults:
    """A finished session of `gan-trader run` (by default the newest, of `experiment` if given)."""
    browser = EpisodeBrowser(tracking_uri)
    if session is None:
        sessions = browser.sessions(experiment)
        finished = sessions[sessions["status"] == "FINISHED"]
        if finished.empty:
            raise TrackingError("no finished session to read: run an experiment first")
        session = str(finished.iloc[0]["session"])
    run = browser.session(session)
    with tempfile.TemporaryDirectory(prefix="gan-trader-results-") as tmp:
        folder = Path(tmp)
        config, forecast_dir = session_files(browser, run.run_id, session, folder)
        leaderboard = _table(browser, run.run_id, "leaderboard.csv", folder)
        if leaderboard is None:
            raise TrackingError(f"session {session}: no stored leaderboard (did it finish?)")
        folds = _table(browser, run.run_id, "folds.csv", folder)
        drift = _table(browser, run.run_id, "drift.csv", folder)
        forecasts = [load_forecast(path) for path in sorted(forecast_dir.glob("*.npz"))]
    return ExperimentResults(
        session_id=run.run_id,
        config=config,
        leaderboard=leaderboard.set_index("model"),
        folds=folds,
        drift=drift,
        forecasts=forecasts,
        close=load_panel(config).close,
    )
