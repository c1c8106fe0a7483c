"""One study job: a model on one target with one feature set, fitted per walk-forward fold, for its cells'
seeds; each cell is logged as a child run of the study with its per-day scores.

A cell's run holds `scores.parquet` (one row per model row and test day: fold, date, fair CRPS, the
yardstick's CRPS, PIT, point forecast, realised return), its crps_rel per fold and pooled, and its timings. A
GAN's cell has three rows per day: the forecast (`gan`) and its raw draws and MH samples (`gan_raw`,
`gan_mh`), each a model of the tables. A cell that fails (a NaN loss, a target too short for the folds) ends
FAILED with the reason and the job goes on with its next cell; Ctrl-C ends it KILLED.

A distribution baseline's fit does not depend on its seed (`DistributionBaseline`: the seed draws its samples
only), so a job of one (har_t, garch_t, the Gaussians...) fits once per fold and draws once per seed: the
per-target models are fitted once per target, not once per seed.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig, TrackingConfig
from gan_trader.errors import EpisodeFailed, TrainingError
from gan_trader.io import atomic_path
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines import baseline_class, create_baseline
from gan_trader.models.baselines.distributions import DistributionBaseline
from gan_trader.models.scoring import crps_fair, pit_values, realised_returns, reference_crps
from gan_trader.models.wgan import GanForecaster
from gan_trader.tracking import tags
from gan_trader.tracking.recorder import FAILED, FINISHED, KILLED, Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.workflow.study.spec import Cell, StudyModel

log = logging.getLogger(__name__)

SCORES_ARTIFACT = "scores.parquet"
DAY_COLUMNS = ["model", "fold", "date", "crps", "reference", "pit", "point", "actual"]


@dataclass
class CellJob:
    """Everything a worker needs to score a model's cells (one per seed) on one target and feature set."""

    study_id: str
    tracking: TrackingConfig
    experiment: str
    model: StudyModel
    config: ExperimentConfig
    feature_set: str
    tasks: list[ForecastTask]
    cells: list[tuple[Cell, int, str]]  # (cell, index in the grid, digest)
    missing: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return self.config.data.target


@dataclass
class CellOutcome:
    """How one cell ended: FINISHED with its pooled crps_rel, or FAILED / KILLED with the reason."""

    cell: Cell
    status: str
    run_id: str | None
    reason: str | None = None
    wall_s: float = 0.0
    crps_rel: dict[str, float] = field(default_factory=dict)  # model row -> crps_rel over every fold


def shares_fit(model: StudyModel) -> bool:
    """Whether one fit per fold serves every seed: a distribution baseline's seed draws its samples only."""
    return not model.is_gan and issubclass(baseline_class(model.model), DistributionBaseline)


def make_forecaster(model: StudyModel, config: ExperimentConfig, seed: int) -> Forecaster:
    if model.is_gan:
        return GanForecaster(config.gan, scaler=config.features.scaler, seed=seed, name=model.name)
    return create_baseline(model.model, seed, config.gan, config.features.scaler)


def day_scores(task: ForecastTask, forecast: Forecast, fold: int) -> pd.DataFrame:
    """A forecast's per-day scores on its days: fair CRPS, the yardstick's CRPS, PIT, point and realised."""
    if forecast.samples is None or np.ndim(forecast.samples) != 2 or np.shape(forecast.samples)[1] < 2:
        raise TrainingError(f"{forecast.model}: gives no distribution (no samples), and a study scores CRPS")
    actual = realised_returns(task, forecast)
    samples = np.asarray(forecast.samples, float)
    crps = crps_fair(actual, samples)
    if not np.isfinite(crps).all():
        raise EpisodeFailed(f"{forecast.model}: non-finite forecasts on fold {fold}")
    return pd.DataFrame(
        {
            "model": forecast.model,
            "fold": fold,
            "date": forecast.target_dates,
            "crps": crps,
            "reference": reference_crps(task, forecast),
            "pit": pit_values(actual, samples),
            "point": forecast.log_return,
            "actual": actual,
        }
    )


def forecast_rows(forecast: Forecast, name: str) -> list[Forecast]:
    """The forecast under the model's study name, and its ablations (the GAN's raw and MH rows)."""
    forecast.model = name
    return [forecast, *forecast.ablations]


class _Fits:
    """Fitted forecasters of one job, per (fold, seed); shared across seeds when the fit allows."""

    def __init__(self, job: CellJob) -> None:
        self.job = job
        self.shared = shares_fit(job.model)
        self.fitted: dict[tuple[int, int], Forecaster] = {}
        self.fit_s = 0.0

    def forecaster(self, fold: int, seed: int) -> Forecaster:
        key = (fold, 0 if self.shared else seed)
        if key not in self.fitted:
            started = time.perf_counter()
            task = self.job.tasks[fold]
            self.fitted[key] = make_forecaster(self.job.model, self.job.config, seed).fit(task)
            self.fit_s += time.perf_counter() - started
            if not self.shared:  # one fit per seed: keep only the current one
                self.fitted = {key: self.fitted[key]}
        forecaster = self.fitted[key]
        if self.shared:
            forecaster.seed = seed  # type: ignore[attr-defined]  # DistributionBaseline draws with it
        return forecaster


def score_cell(job: CellJob, fits: _Fits, seed: int) -> pd.DataFrame:
    """Fit (or reuse) the model on every fold for `seed` and score its forecasts of the fold's test days."""
    frames = []
    for fold, task in enumerate(job.tasks):
        forecaster = fits.forecaster(fold, seed)
        forecast = forecaster.predict(task, task.origins("test"))
        for row in forecast_rows(forecast, job.model.name):
            frames.append(day_scores(task, row, fold))
    return pd.concat(frames, ignore_index=True)


def cell_tags(cell: Cell, digest: str, missing: list[str]) -> dict[str, str]:
    found = {
        tags.KIND_TAG: "cell",
        tags.CELL_TAG: cell.key,
        tags.DIGEST_TAG: digest,
        tags.TARGET_TAG: cell.target,
        tags.FEATURE_SET_TAG: cell.feature_set,
        tags.MODEL_TAG: cell.model,
        tags.SEED_TAG: str(cell.seed),
    }
    if missing:
        found[tags.MISSING_TAG] = "; ".join(missing)
    return found


def crps_rel_by_row(scores: pd.DataFrame) -> dict[str, float]:
    sums = scores.groupby("model", sort=False)[["crps", "reference"]].sum()
    return {str(m): float(r["crps"] / r["reference"]) for m, r in sums.iterrows()}


def _log_scores(recorder: Recorder, run_id: str, scores: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory(prefix="gan-trader-cell-") as folder:
        path = Path(folder) / SCORES_ARTIFACT
        with atomic_path(path) as tmp:
            scores.to_parquet(tmp, index=False)
        recorder.log_artifact(run_id, path)
    metrics = {f"cell/{m}/crps_rel": v for m, v in crps_rel_by_row(scores).items()}
    for (fold, model), part in scores.groupby(["fold", "model"], sort=False):
        metrics[f"cell/{model}/fold{fold}/crps_rel"] = float(part["crps"].sum() / part["reference"].sum())
    recorder.log_metrics(run_id, metrics)


def run_cells(job: CellJob, recorder: Recorder | None = None) -> list[CellOutcome]:
    """Score the job's cells one after the other, each logged as a child run of the study."""
    recorder = recorder or open_recorder(job.tracking, job.experiment)
    fits = _Fits(job)
    outcomes = []
    for cell, index, digest in job.cells:
        started = time.perf_counter()
        fit_before = fits.fit_s
        run_id = recorder.start_episode(
            job.study_id,
            index,
            params={"model": job.model.model, "set": list(job.model.overrides), "folds": len(job.tasks)},
            tags=cell_tags(cell, digest, job.missing),
        )
        recorder.set_tags(run_id, {tags.NAME_TAG: cell.key})  # the store's run name: the cell's key
        try:
            with warnings.catch_warnings():
                # A GAN with no feature column has an empty scale layer; torch says so once per layer.
                warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
                scores = score_cell(job, fits, cell.seed)
            _log_scores(recorder, run_id, scores)
            wall = time.perf_counter() - started
            recorder.log_metrics(run_id, {"cell/wall_s": wall, "cell/fit_s": fits.fit_s - fit_before})
            recorder.finish(run_id, FINISHED)
            outcomes.append(CellOutcome(cell, FINISHED, run_id, None, wall, crps_rel_by_row(scores)))
        except KeyboardInterrupt:
            recorder.finish(run_id, KILLED, "interrupted by the user")
            raise
        except Exception as exc:
            reason = exc.reason if isinstance(exc, EpisodeFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("cell %s failed: %s", cell.key, reason, exc_info=not isinstance(exc, EpisodeFailed))
            recorder.finish(run_id, FAILED, reason)
            outcomes.append(CellOutcome(cell, FAILED, run_id, reason, time.perf_counter() - started))
    return outcomes


def failed_cells(
    recorder: Recorder, study_id: str, cells: list[tuple[Cell, int, str]], reason: str
) -> list[CellOutcome]:
    """Log cells that cannot start (their target's data or features failed) as FAILED runs with the reason."""
    outcomes = []
    for cell, index, digest in cells:
        run_id = recorder.start_episode(study_id, index, tags=cell_tags(cell, digest, []))
        recorder.finish(run_id, FAILED, reason)
        outcomes.append(CellOutcome(cell, FAILED, run_id, reason))
    return outcomes


# run_cells or a stand-in with its signature (tests): (job, recorder=None) -> outcomes
CellFunction = Callable[..., list[CellOutcome]]
