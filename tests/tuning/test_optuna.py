"""The `optuna` strategy: TPE proposes each set, the reference joins the study as a completed trial, and the
pruner stops a trial at the epoch where its validation score falls behind (charged the epochs it trained)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from tuning_doubles import SmoothObjectiveGan, tiny_config

from gan_trader.config import GanConfig
from gan_trader.models.base import ForecastTask
from gan_trader.models.wgan import GanForecaster
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import run_episode
from gan_trader.tuning.executor import LocalExecutor
from gan_trader.tuning.pruning import journal_storage
from gan_trader.tuning.racing import RACE
from gan_trader.tuning.session import run_session


class EpochGan(SmoothObjectiveGan):
    """The stand-in, scored every epoch (val/crps_rel falls with the epochs, is worst far from
    lrelu_alpha 0.1) and stopping when its callback asks, as GanForecaster does."""

    def _train(self, epochs: int) -> None:
        for _ in range(epochs):
            self.epochs_done += 1
            miss = abs(self.config.critic.lrelu_alpha - 0.1)
            score = 1.0 + miss + 0.5 / self.epochs_done
            metrics = {
                "train/loss_d": -0.1,
                "train/loss_g": 0.1,
                "train/wasserstein": 0.1,
                "val/crps_rel": score,
            }
            if self.callback.on_epoch(self.epochs_done, metrics):
                break
        path = self.checkpoint_dir / "last.pt"
        path.write_text(json.dumps({"epochs": self.epochs_done}))
        self.callback.on_checkpoint(path)


def epoch_episode(job, task, recorder=None):
    recorder = recorder or open_recorder(job.tracking, job.experiment)
    return run_episode(job.config, task, recorder, job.session_id, job.spec, forecaster_factory=EpochGan)


def test_optuna_session_prunes_and_charges_the_pruned_epochs(
    tmp_path: Path, tiny_task: ForecastTask, store: Path, experiment: str
) -> None:
    config = tiny_config(
        tmp_path,
        "tuning.epochs_per_episode=4",
        "tuning.optuna.startup_trials=1",
        "tuning.optuna.warmup_epochs=0",
        "gan.critic.lrelu_alpha=0.1",  # the reference is the optimum: later trials fall behind it
        store=store,
    )
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(
        config,
        tiny_task,
        recorder,
        strategy="optuna",
        episodes=6,
        executor=LocalExecutor(1, epoch_episode),
        quiet=True,
    )
    searched = [e for e in result.episodes if e.action != RACE]
    assert searched[0].action == "reference" and {e.action for e in searched[1:]} == {"optuna"}
    pruned = [e for e in searched if e.metrics.get("tune/pruned") == 1.0]
    assert pruned and all(e.ok and e.epochs < 4 for e in pruned)  # stopped early, FINISHED
    assert result.epochs_spent == sum(max(e.epochs, 1) for e in result.episodes)
    study = optuna.load_study(
        study_name=result.session_id, storage=journal_storage(result.folder / "strategy" / "optuna.journal")
    )
    states = [trial.state for trial in study.trials]
    assert states[0] == optuna.trial.TrialState.COMPLETE  # the reference, added as a completed trial
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert study.trials[0].params == {k: searched[0].hyperparameters[k] for k in study.trials[0].params}
    assert all(e.suggestion["trial"] == n for n, e in enumerate(searched[1:], start=1))


def test_the_gan_stops_when_its_callback_asks(tiny_task: ForecastTask) -> None:
    """A pruned episode of the real GAN ends after the epoch its callback answered True."""

    class StopAfterTwo:
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def on_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
            self.epochs.append(epoch)
            return epoch == 2

        def on_figure(self, name: str, figure) -> None:
            pass

        def on_checkpoint(self, path) -> None:
            pass

    callback = StopAfterTwo()
    gan = GanConfig.model_validate(
        {
            "epochs": 5,
            "seq_len": 5,
            "batch_size": 64,
            "generator": {"hidden": 4},
            "plot_epochs": [],
            "critic": {"filters": [4, 8, 16], "dense": [8, 8], "kernel_size": 3},
            "mh": {"enabled": False},
        }
    )
    GanForecaster(gan, callback=callback, seed=0).fit(tiny_task)
    assert callback.epochs == [1, 2]


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_optuna_settings_are_checked_and_both_pruners_run(tmp_path: Path, pruner: str) -> None:
    from gan_trader.tuning.pruning import make_pruner

    config = tiny_config(tmp_path, f"tuning.optuna.pruner={pruner}", "tuning.strategy=optuna")
    settings = config.tuning.optuna
    made = make_pruner(settings.pruner, settings.startup_trials, settings.warmup_epochs, 4)
    expected = optuna.pruners.MedianPruner if pruner == "median" else optuna.pruners.HyperbandPruner
    assert isinstance(made, expected)
