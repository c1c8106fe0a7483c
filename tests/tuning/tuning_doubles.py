"""The tiny tuning experiment and cheap deterministic GAN stand-ins, for tests of the tuning logic."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig, GanConfig, load_config
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, run_episode
from gan_trader.tuning.executor import EpisodeJob

# The tiny tuning experiment: MSFT from mid-2015, no feature builders, a seconds-long GAN, a small space.
TINY_TUNING_EXPERIMENT = [
    "features.builders={}",
    "features.cache_dir=null",
    "data.start=2015-06-01",
    "gan.epochs=1",
    "gan.seq_len=5",
    "gan.batch_size=32",
    "gan.generator.hidden=4",
    "gan.critic.filters=[4,8,16]",
    "gan.critic.dense=[8,8]",
    "gan.critic.kernel_size=3",  # the reference set (the config's own values) lies inside the space below
    "gan.n_critic=1",
    "gan.mh.candidates=4",
    "gan.plot_epochs=[]",
    "gan.device=cpu",
    "tuning.init_points=1",
    "tuning.epochs_per_episode=1",
    "tuning.warm_start=false",
    "tuning.racing.candidates=1",  # racing: the reference and one candidate, two fresh seeds each
    # The original's nine names with ranges small enough for a seconds-long GAN.
    "tuning.space={batch_size: {type: int, low: 16, high: 32}, cnn_lr: {type: log_float, low: 1.0e-4, "
    "high: 1.0e-2}, strides: {type: int, low: 1, high: 2}, lrelu_alpha: {type: float, low: 0.01, high: 0.3}, "
    "batchnorm_momentum: {type: float, low: 0.5, high: 0.99}, padding: {type: int, low: 1, high: 2}, "
    "kernel_size: {type: int, low: 2, high: 3}, dropout: {type: float, low: 0.0, high: 0.3}, "
    "filters: {type: int, low: 4, high: 8}}",
]


def tiny_config(tmp_path: Path, *extra: str, store: Path | None = None) -> ExperimentConfig:
    """A seconds-long GAN on a short slice; `store` shares one MLflow database (creating one is slow)."""
    overrides = [
        *TINY_TUNING_EXPERIMENT,
        f"runs_dir={tmp_path / 'runs'}",
        f"tracking.uri=sqlite:///{(store or tmp_path) / 'mlflow.db'}",
        f"tracking.artifact_root={tmp_path / 'artifacts'}",
        *extra,
    ]
    return load_config(None, overrides)


class SmoothObjectiveGan:
    """Deterministic stand-in with the GanForecaster API: a constant forecast set by the hyperparameters.

    Its forecast distribution (a Gaussian spread around that constant) is best near lrelu_alpha = 0.1, in
    point error and in CRPS, so an optimiser has something to find; lr_g above 0.1
    produces a NaN loss (the episode must end FAILED). Checkpoints are small JSON files. (The reliability
    tests' ScriptedGan is the other stand-in: its fits follow a script of ok / NaN / Ctrl-C.)
    """

    def __init__(self, config: GanConfig, seed: int, callback: Any, checkpoint_dir: Path, **_: Any) -> None:
        self.config, self.seed, self.callback, self.checkpoint_dir = config, seed, callback, checkpoint_dir
        self.epochs_done = 0

    def _train(self, epochs: int) -> None:
        for _ in range(epochs):
            self.epochs_done += 1
            loss = math.nan if self.config.lr_g > 0.1 else 1.0 / self.epochs_done
            self.callback.on_epoch(
                self.epochs_done,
                {"train/loss_d": -loss, "train/loss_g": loss, "train/wasserstein": loss, "val/mae": 0.01},
            )
        path = self.checkpoint_dir / "last.pt"
        path.write_text(json.dumps({"epochs": self.epochs_done}))
        self.callback.on_checkpoint(path)

    def fit(
        self, task: ForecastTask, resume_from: Path | None = None, epochs: int | None = None
    ) -> SmoothObjectiveGan:
        if resume_from is not None:
            self.epochs_done = json.loads(Path(resume_from).read_text())["epochs"]
        self._train(epochs if epochs is not None else self.config.epochs)
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        miss = (self.config.critic.lrelu_alpha - 0.1) / (1 + self.epochs_done)
        level = 0.002 * miss
        spread = 0.012 * (1.0 + 5.0 * abs(miss))
        quantiles = np.linspace(-1.6, 1.6, 16)  # the same standard-normal-like shape every day
        samples = level + spread * np.tile(quantiles, (len(origins), 1))
        return Forecast.from_returns("fake", task, origins, np.full(len(origins), level), samples)


def fake_episode(job: EpisodeJob, task: ForecastTask, recorder: Recorder | None = None) -> EpisodeResult:
    """An executor episode function that runs the real episode logic around SmoothObjectiveGan."""
    if recorder is None:
        recorder = open_recorder(job.tracking, job.experiment)
    return run_episode(
        job.config, task, recorder, job.session_id, job.spec, forecaster_factory=SmoothObjectiveGan
    )


def fake_result(spec: EpisodeSpec) -> EpisodeResult:
    """An env runner double: no GAN, no tracking; the objective depends smoothly on the hyperparameters."""
    alpha = float(spec.hyperparameters.get("lrelu_alpha", 0.1))
    error = 0.01 + abs(alpha - 0.1) * 0.01 / (1 + spec.prior_epochs + spec.epochs)
    metrics = {
        "val/mae": error,
        "val/persistence_mae": 0.012,
        "val/relmae": error / 0.012,
        "val/crps_rel": error / 0.012,
        "val/directional_accuracy": 0.5,
    }
    history = [{"train/loss_d": -0.5, "train/loss_g": 0.3, "train/wasserstein": 0.5}]
    checkpoint = spec.checkpoint_dir / "last.pt"
    return EpisodeResult(
        index=spec.index,
        status="FINISHED",
        run_id=None,
        hyperparameters=spec.hyperparameters,
        metrics=metrics,
        epochs=spec.epochs,
        total_epochs=spec.prior_epochs + spec.epochs,
        checkpoint=checkpoint,
        action=spec.action,
        history=history,
        suggestion=spec.suggestion,
        seed=spec.seed,
    )
