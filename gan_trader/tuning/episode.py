"""One episode: a complete GAN training with one hyperparameter set, logged as a nested run of the session.

The run holds the hyperparameters (`hp.<name>`), per-epoch metrics (step = epoch), final validation and test
metrics beside persistence on the same days, the controller's action and the optimiser's suggestion (tags and
params), the reward (logged by the session once known), and artifacts: plots, predictions CSV, checkpoint and
the resolved config. A crash or a non-finite loss ends the run FAILED with its reason; the session goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig, GanConfig, dump_config
from gan_trader.errors import ConfigError, EpisodeFailed, TrackingError
from gan_trader.evaluation.leaderboard import persistence_forecast
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.models.scoring import forecast_metrics, reference_crps, validation_scores
from gan_trader.tracking.recorder import FAILED, FINISHED, Recorder, RunRecord
from gan_trader.tracking.tags import ACTION_TAG, DEVICE_TAG, NODE_TAG
from gan_trader.tuning.pruning import PRUNED_METRIC, TrialPruning
from gan_trader.tuning.space import apply_hyperparameters

log = logging.getLogger(__name__)

CHECKPOINT_PARAM = "checkpoint"  # `episode.checkpoint`: the name of the checkpoint a "keep" continues


# Episode indices of a run's refits of the selected set per walk-forward fold and seed:
# REFIT_INDEX + 100 x fold + the seed's position (below it: the tuning session's own episodes).
REFIT_INDEX = 1000


@dataclass
class EpisodeSpec:
    """What to run: picklable, so an executor can ship it to another process or a Ray worker."""

    index: int
    hyperparameters: dict[str, Any]
    epochs: int
    seed: int
    checkpoint_dir: Path
    action: str = "new"  # new | keep | fixed | random | bo | pbt
    resume_from: Path | None = None  # checkpoint to continue training from ("keep")
    prior_epochs: int = 0  # epochs already trained on this hyperparameter set before `resume_from`
    suggestion: dict[str, Any] | None = None
    parent_index: int | None = None  # the episode whose checkpoint is continued
    resume_run: str | None = None  # its run, whose artifacts `checkpoint/<resume_from's name>` hold it
    pruning: dict[str, Any] | None = None  # an Optuna trial to report each epoch to (pruning.TrialPruning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "hyperparameters": self.hyperparameters,
            "epochs": self.epochs,
            "seed": self.seed,
            "checkpoint_dir": str(self.checkpoint_dir),
            "action": self.action,
            "resume_from": str(self.resume_from) if self.resume_from else None,
            "prior_epochs": self.prior_epochs,
            "suggestion": self.suggestion,
            "parent_index": self.parent_index,
            "resume_run": self.resume_run,
            "pruning": self.pruning,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> EpisodeSpec:
        data = dict(payload)
        data["checkpoint_dir"] = Path(data["checkpoint_dir"])
        data["resume_from"] = Path(data["resume_from"]) if data.get("resume_from") else None
        return cls(**data)

    @classmethod
    def fresh(
        cls,
        index: int,
        hyperparameters: dict[str, Any],
        *,
        epochs: int,
        seed: int,
        checkpoint_dir: Path,
        action: str,
        suggestion: dict[str, Any] | None = None,
    ) -> EpisodeSpec:
        """Train `hyperparameters` from scratch."""
        return cls(
            index=index,
            hyperparameters=dict(hyperparameters),
            epochs=epochs,
            seed=seed,
            checkpoint_dir=checkpoint_dir,
            action=action,
            suggestion=suggestion,
        )

    @classmethod
    def continuing(
        cls, index: int, parent: EpisodeResult, *, epochs: int, seed: int, checkpoint_dir: Path
    ) -> EpisodeSpec:
        """Continue training `parent`'s checkpoint with its hyperparameters (the action `keep`)."""
        return cls(
            index=index,
            hyperparameters=dict(parent.hyperparameters),
            epochs=epochs,
            seed=seed,
            checkpoint_dir=checkpoint_dir,
            action="keep",
            resume_from=parent.checkpoint,
            prior_epochs=parent.total_epochs,
            parent_index=parent.index,
            resume_run=parent.run_id,
        )

    @classmethod
    def from_run(cls, run: RunRecord, hyperparameters: dict[str, Any], checkpoint_dir: Path) -> EpisodeSpec:
        """The spec an episode run was started with, as far as its params tell (see `run_episode`)."""
        logged = run.param_section("episode")
        parent = logged.get("parent_index", "None")
        return cls(
            index=run.episode_index if run.episode_index is not None else -1,
            hyperparameters=hyperparameters,
            epochs=int(logged.get("epochs", 0)),
            seed=int(logged.get("seed", 0)),
            checkpoint_dir=checkpoint_dir,
            action=run.tags.get(ACTION_TAG, ""),
            prior_epochs=int(float(logged.get("prior_epochs", 0))),
            parent_index=int(parent) if parent.lstrip("-").isdigit() else None,
        )


@dataclass
class EpisodeResult:
    """The outcome of one episode. `epochs` counts the epochs trained in this episode (the compute spent)."""

    index: int
    status: str
    run_id: str | None
    hyperparameters: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    epochs: int = 0
    total_epochs: int = 0
    checkpoint: Path | None = None
    reason: str | None = None
    action: str = "new"
    val_forecast: Forecast | None = None
    test_forecast: Forecast | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    suggestion: dict[str, Any] | None = None
    reward: float | None = None  # set by the session once the controller's reward is known
    seed: int | None = None  # the seed it trained with (EpisodeSpec.seed)

    @property
    def ok(self) -> bool:
        return self.status == FINISHED

    def objective(self, key: str) -> float:
        """The tuning objective (lower is better); inf for a failed episode."""
        value = self.metrics.get(key, math.inf) if self.ok else math.inf
        return float(value) if math.isfinite(value) else math.inf

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly record (no forecasts) for session state files."""
        return {
            "index": self.index,
            "status": self.status,
            "run_id": self.run_id,
            "hyperparameters": self.hyperparameters,
            "metrics": self.metrics,
            "epochs": self.epochs,
            "total_epochs": self.total_epochs,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "reason": self.reason,
            "action": self.action,
            "suggestion": self.suggestion,
            "reward": self.reward,
            "seed": self.seed,
            "history": self.history[-1:],  # the last epoch is what the controller observes
        }

    @classmethod
    def from_summary(cls, payload: dict[str, Any]) -> EpisodeResult:
        data = dict(payload)
        data["checkpoint"] = Path(data["checkpoint"]) if data.get("checkpoint") else None
        return cls(**data)

    @classmethod
    def from_run(cls, run: RunRecord, spec: EpisodeSpec, checkpoint: Path | None = None) -> EpisodeResult:
        """An episode as its run logged it: status, failure, final metrics and the epochs it trained (0
        when the run logged none, i.e. it failed)."""
        metrics = dict(run.metrics)
        epochs = int(metrics.pop("tune/epochs", 0))
        metrics.pop("tune/total_epochs", None)
        return cls(
            index=spec.index,
            status=run.status,
            run_id=run.run_id,
            hyperparameters=dict(spec.hyperparameters),
            metrics=metrics,
            epochs=epochs,
            total_epochs=spec.prior_epochs + epochs,
            checkpoint=checkpoint,
            reason=run.failure,
            action=spec.action,
            suggestion=spec.suggestion,
            seed=spec.seed,
        )


@dataclass
class TrainedGan:
    """What `train_gan` returns: metrics, forecasts, the last checkpoint and the per-epoch history."""

    metrics: dict[str, float]
    val_forecast: Forecast
    test_forecast: Forecast
    checkpoint: Path | None
    epochs: int
    history: list[dict[str, float]]
    predictions: pd.DataFrame


class _EpisodeCallback:
    """Forwards the GAN's per-epoch metrics, figures and checkpoints to the recorder (when there is one), and
    each epoch's validation score to the episode's Optuna trial when it has one (which may stop it)."""

    def __init__(
        self,
        recorder: Recorder | None,
        run_id: str | None,
        epoch_offset: int,
        pruning: dict[str, Any] | None = None,
    ) -> None:
        self.recorder = recorder
        self.run_id = run_id
        self.epoch_offset = epoch_offset
        self.history: list[dict[str, float]] = []
        self.checkpoint: Path | None = None
        self.pruning = TrialPruning(pruning) if pruning else None

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        values = {key: float(value) for key, value in metrics.items() if value is not None}
        for key, value in values.items():
            if key.startswith("train/loss") and not math.isfinite(value):
                raise EpisodeFailed(f"non-finite {key} ({value}) at epoch {epoch}")
        self.history.append(values)
        if self.recorder is not None and self.run_id is not None:
            self.recorder.log_metrics(self.run_id, values, step=self.epoch_offset + len(self.history))
        return self.pruning is not None and self.pruning.should_stop(len(self.history), values)

    def on_figure(self, name: str, figure: Any) -> None:
        if self.recorder is not None and self.run_id is not None:
            self.recorder.log_figure(self.run_id, figure, f"plots/{name}.png")
        else:
            import matplotlib.pyplot as plt

            plt.close(figure)

    def on_checkpoint(self, path: str | Path) -> None:
        self.checkpoint = Path(path)


def episode_metrics(task: ForecastTask, val: Forecast, test: Forecast) -> dict[str, float]:
    """val/* and test/* of the GAN (points, and CRPS / crps_rel of its samples), its numeric diagnostics
    (`Forecast.extra` scalars: MH acceptance, critic AUC, Turner's Z), persistence's point scores on exactly
    the same days beside them, and the trailing-60-day Gaussian's mean CRPS (`reference_crps`)."""
    metrics = validation_scores(task, val, "val/")
    metrics.update(validation_scores(task, test, "test/"))
    for span, forecast in (("val", val), ("test", test)):
        for key, value in forecast.extra.items():
            if isinstance(value, int | float | np.number) and not isinstance(value, bool):
                metrics[f"{span}/{key}"] = float(value)
        naive = forecast_metrics(task, persistence_forecast(task, forecast.origins), "")
        metrics.update({f"{span}/persistence_{key}": value for key, value in naive.items()})
        metrics[f"{span}/reference_crps"] = float(np.mean(reference_crps(task, forecast)))
    return metrics


def predictions_table(task: ForecastTask, val: Forecast, test: Forecast) -> pd.DataFrame:
    close = task.close
    frames = []
    for span, forecast in (("val", val), ("test", test)):
        frames.append(
            pd.DataFrame(
                {
                    "span": span,
                    "origin": forecast.origins,
                    "target_date": forecast.target_dates,
                    "close_origin": close.loc[forecast.origins].to_numpy(),
                    "actual_price": close.loc[forecast.target_dates].to_numpy(),
                    "predicted_price": forecast.price,
                    "predicted_log_return": forecast.log_return,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def make_forecaster(
    gan: GanConfig, seed: int, callback: Any, checkpoint_dir: Path, scaler: str = "standard"
) -> Any:
    """The real GAN (imported lazily: torch is heavy and only episodes need it)."""
    from gan_trader.models.wgan import GanForecaster

    return GanForecaster(gan, scaler=scaler, callback=callback, checkpoint_dir=checkpoint_dir, seed=seed)


def train_gan(
    config: ExperimentConfig,
    task: ForecastTask,
    spec: EpisodeSpec,
    callback: _EpisodeCallback,
    forecaster_factory: Callable[..., Any] = make_forecaster,
) -> TrainedGan:
    """Train (or continue training) the GAN for `spec.epochs` and score it on validation and test days."""
    gan = apply_hyperparameters(config.gan, spec.hyperparameters).model_copy(update={"epochs": spec.epochs})
    spec.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    forecaster = forecaster_factory(
        gan, spec.seed, callback, spec.checkpoint_dir, scaler=config.features.scaler
    )
    try:
        # Continuing ("keep") restores weights, optimisers, RNG and history from the checkpoint.
        forecaster.fit(task, resume_from=spec.resume_from, epochs=spec.epochs)
        val = forecaster.predict(task, task.origins("val"))
        test = forecaster.predict(task, task.origins("test"))
    except EpisodeFailed:
        raise
    except (FloatingPointError, OverflowError) as exc:
        raise EpisodeFailed(f"{type(exc).__name__}: {exc}") from exc
    if not (np.isfinite(val.log_return).all() and np.isfinite(test.log_return).all()):
        raise EpisodeFailed("the GAN produced non-finite forecasts")
    # last.pt holds the state at the last epoch trained (what "keep" continues); model.pt the selected model.
    last = spec.checkpoint_dir / "last.pt"
    checkpoint = last if last.exists() else callback.checkpoint
    metrics = episode_metrics(task, val, test)
    metrics[SLOPE_METRIC] = learning_slope(callback.history, config.tuning.objective)
    if callback.pruning is not None:
        metrics[PRUNED_METRIC] = float(callback.pruning.pruned_at is not None)
    return TrainedGan(
        metrics=metrics,
        val_forecast=val,
        test_forecast=test,
        checkpoint=checkpoint,
        epochs=len(callback.history),
        history=callback.history,
        predictions=predictions_table(task, val, test),
    )


SLOPE_METRIC = "tune/learning_slope"
SLOPE_EPOCHS = 5  # the learning curve's slope is fitted to the last epochs of an episode


def learning_slope(history: list[dict[str, float]], objective: str) -> float:
    """How fast the episode's validation score still falls: the least-squares slope of `objective` per epoch
    over its last SLOPE_EPOCHS epochs, relative to their mean (negative: still improving; 0 with fewer than
    two finite epochs)."""
    values = np.asarray([epoch.get(objective, math.nan) for epoch in history[-SLOPE_EPOCHS:]], float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or not np.mean(values):
        return 0.0
    slope = np.polyfit(np.arange(len(values), dtype=float), values, 1)[0]
    return float(slope / abs(np.mean(values)))


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint written last in `folder` (what a "keep" episode continues)."""
    found = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _logged_params(spec: EpisodeSpec) -> dict[str, Any]:
    """What an episode run logs as params: `hp.*`, `episode.*` and the optimiser's `suggestion.*`."""
    params: dict[str, Any] = {
        "hp": spec.hyperparameters,
        "episode": {
            "epochs": spec.epochs,
            "seed": spec.seed,
            "action": spec.action,
            "prior_epochs": spec.prior_epochs,
            "parent_index": spec.parent_index,
        },
    }
    if spec.suggestion:
        params["suggestion"] = spec.suggestion
    return params


def _log_trained(
    recorder: Recorder, run_id: str, config: ExperimentConfig, spec: EpisodeSpec, trained: TrainedGan
) -> None:
    """Final metrics, the resolved config, the predictions and the checkpoints of a finished episode."""
    gan = apply_hyperparameters(config.gan, spec.hyperparameters).model_copy(update={"epochs": spec.epochs})
    # At the last epoch's step, logged after it: the run's latest value of each key (what `episodes list`,
    # warm starts and resumes read) is the kept epoch's score, not the last epoch's.
    recorder.log_metrics(
        run_id,
        {
            **trained.metrics,
            "tune/epochs": trained.epochs,
            "tune/total_epochs": spec.prior_epochs + trained.epochs,
        },
        step=spec.prior_epochs + trained.epochs,
    )
    recorder.log_text(run_id, dump_config(config.model_copy(update={"gan": gan})), "config.yaml")
    recorder.log_table(run_id, trained.predictions, "predictions.csv")
    kept = {"model.pt", "last.pt"} | ({trained.checkpoint.name} if trained.checkpoint else set())
    for name in sorted(kept):
        if (spec.checkpoint_dir / name).exists():
            recorder.log_artifact(run_id, spec.checkpoint_dir / name, "checkpoint")
    if trained.checkpoint is not None:  # which of them a "keep" continues (read back by `logged_checkpoint`)
        recorder.log_params(run_id, {"episode": {CHECKPOINT_PARAM: trained.checkpoint.name}})


def logged_checkpoint(run: RunRecord, checkpoint_dir: Path) -> Path | None:
    """The checkpoint a FINISHED episode run left to continue, as `EpisodeResult.checkpoint` names it: the
    file its run logged as `checkpoint/<name>` (on this machine when the episode trained here, else fetched
    through the recorder from that run by a "keep" episode); for runs that do not name it, the newest in
    `checkpoint_dir`."""
    name = run.param_section("episode").get(CHECKPOINT_PARAM)
    return checkpoint_dir / name if name else latest_checkpoint(checkpoint_dir)


def log_unstarted(recorder: Recorder, session_id: str, spec: EpisodeSpec, reason: str) -> str:
    """Log an episode that never began training (no executor could run it) as a FAILED run with its params
    and `reason`, so the store holds every episode; returns the run's id."""
    run_id = recorder.start_episode(session_id, spec.index, _logged_params(spec), {ACTION_TAG: spec.action})
    recorder.finish(run_id, FAILED, reason)
    return run_id


@contextlib.contextmanager
def _workspace(recorder: Recorder, spec: EpisodeSpec) -> Iterator[EpisodeSpec]:
    """The spec to train with. With local artifacts, `spec` itself. When the tracking server holds them, this
    machine may not see the driver's folders: the episode trains in a scratch folder, removed once its
    checkpoints are uploaded. A checkpoint to continue is downloaded from the run that logged it when the
    artifacts are remote or the file is not on this disk (a session resumed after its folder was lost)."""
    remote = recorder.artifacts_remote
    parent = spec.resume_from
    fetch = parent is not None and spec.resume_run is not None and (remote or not parent.exists())
    if not remote and not fetch:
        yield spec
        return
    with tempfile.TemporaryDirectory(prefix=f"gan-trader-episode-{spec.index:03d}-") as scratch:
        if fetch and parent is not None and spec.resume_run is not None:
            try:
                parent = recorder.download(
                    spec.resume_run, f"checkpoint/{parent.name}", Path(scratch) / "parent"
                )
            except TrackingError as exc:
                raise EpisodeFailed(f"the checkpoint to continue cannot be fetched ({exc})") from None
        folder = Path(scratch) / "checkpoint" if remote else spec.checkpoint_dir
        yield dataclasses.replace(spec, checkpoint_dir=folder, resume_from=parent)


def _train(
    config: ExperimentConfig,
    task: ForecastTask,
    spec: EpisodeSpec,
    callback: _EpisodeCallback,
    forecaster_factory: Callable[..., Any],
) -> TrainedGan:
    """`train_gan`, where any error of the GAN is a failed episode."""
    try:
        return train_gan(config, task, spec, callback, forecaster_factory)
    except EpisodeFailed:
        raise
    except Exception as exc:
        # A hyperparameter set the GAN cannot run (a critic that does not fit the window...) is a failed
        # episode, not a failed session; the traceback goes to the log.
        log.warning("episode %d failed", spec.index, exc_info=True)
        raise EpisodeFailed(f"{type(exc).__name__}: {exc}") from exc


def placement_tags(config: ExperimentConfig, placement: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where an episode trains: this machine (or the Ray node `placement` names) and the device `gan.device`
    resolves to here (with the GPUs Ray assigned)."""
    from gan_trader.models.devices import describe, resolve_device  # torch: only where episodes run

    tags = {NODE_TAG: socket.gethostname(), **(placement or {})}
    try:
        device = describe(resolve_device(config.gan.device))
    except ConfigError:  # the GAN fails the episode with this error; the tag says what was asked
        device = config.gan.device
    tags[DEVICE_TAG] = f"{device}, {tags[DEVICE_TAG]}" if DEVICE_TAG in tags else device
    return tags


def run_episode(
    config: ExperimentConfig,
    task: ForecastTask,
    recorder: Recorder,
    session_id: str,
    spec: EpisodeSpec,
    forecaster_factory: Callable[..., Any] = make_forecaster,
    placement: Mapping[str, str] | None = None,
) -> EpisodeResult:
    """Run one episode as a nested run of `session_id`; never raises for a failed episode (status FAILED).
    The run is tagged with where it trains (`placement_tags`).

    :param placement: the Ray node and GPUs an executor's worker runs on (NODE_TAG, DEVICE_TAG).
    """
    callback = _EpisodeCallback(recorder, None, spec.prior_epochs, spec.pruning)
    result = EpisodeResult(
        index=spec.index,
        status=FAILED,
        run_id=None,
        hyperparameters=dict(spec.hyperparameters),
        action=spec.action,
        suggestion=spec.suggestion,
        seed=spec.seed,
    )
    run_tags = {ACTION_TAG: spec.action, **placement_tags(config, placement)}
    try:
        with recorder.episode(session_id, spec.index, _logged_params(spec), run_tags) as run_id:
            result.run_id = callback.run_id = run_id
            with _workspace(recorder, spec) as working:
                trained = _train(config, task, working, callback, forecaster_factory)
                _log_trained(recorder, run_id, config, working, trained)
            result.status = FINISHED
            result.metrics, result.history = trained.metrics, trained.history
            # With remote artifacts the checkpoint is the run's artifact checkpoint/<name>: the path names it.
            if trained.checkpoint is not None:
                result.checkpoint = spec.checkpoint_dir / trained.checkpoint.name
            result.val_forecast, result.test_forecast = trained.val_forecast, trained.test_forecast
    except EpisodeFailed as exc:
        result.status, result.reason, result.history = FAILED, exc.reason, callback.history
    result.epochs = len(result.history)
    result.total_epochs = spec.prior_epochs + result.epochs
    return result
