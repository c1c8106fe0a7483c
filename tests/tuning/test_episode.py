"""One real (tiny) GAN episode: what it logs, continuing from its checkpoint, and a crash ending FAILED."""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from tuning_doubles import tiny_config

from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import ACTION_TAG
from gan_trader.tuning.episode import EpisodeSpec, run_episode

HP = {
    "batch_size": 32,
    "cnn_lr": 1e-3,
    "strides": 2,
    "lrelu_alpha": 0.2,
    "batchnorm_momentum": 0.9,
    "padding": 2,
    "kernel_size": 3,
    "dropout": 0.1,
    "filters": 4,
}


def test_real_episode_logs_everything_and_continues(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(tmp_path, "gan.epochs=2", store=store)
    recorder = open_recorder(config.tracking, experiment)
    session = recorder.start_session("s")
    spec = EpisodeSpec.fresh(
        0,
        HP,
        epochs=1,
        seed=7,
        checkpoint_dir=tmp_path / "ep0",
        action="new",
        suggestion={"source": "ucb", "params": HP},
    )
    result = run_episode(config, tiny_task, recorder, session, spec)
    assert result.status == "FINISHED", result.reason
    assert result.epochs == 1 and result.checkpoint is not None and result.checkpoint.exists()
    for key in (
        "val/mae",
        "val/relmae",
        "test/mae",
        "test/price_mae",
        "test/persistence_mae",
        "test/persistence_price_mae",
        "val/persistence_mae",
    ):
        assert math.isfinite(result.metrics[key]), key
    assert result.metrics["test/persistence_relmae"] == 1.0
    assert len(result.test_forecast.origins) == len(tiny_task.origins("test"))

    run = recorder.run(result.run_id)
    assert run.status == "FINISHED"
    assert run.params["hp.filters"] == "4" and run.params["episode.action"] == "new"
    assert run.params["suggestion.source"] == "ucb"
    assert run.tags[ACTION_TAG] == "new"
    assert [step for step, _ in recorder.metric_history(result.run_id, "train/loss_d")] == [1]
    artifacts = recorder.artifact_dir(result.run_id)
    assert (artifacts / "predictions.csv").exists() and (artifacts / "checkpoint" / "model.pt").exists()
    resolved = yaml.safe_load((artifacts / "config.yaml").read_text())
    assert resolved["gan"]["critic"]["filters"] == [4, 8, 16] and resolved["gan"]["lr_d"] == 1e-3
    assert list((artifacts / "plots").glob("*.png"))

    keep = EpisodeSpec.continuing(1, result, epochs=1, seed=7, checkpoint_dir=tmp_path / "ep1")
    assert keep.resume_from == result.checkpoint and keep.prior_epochs == 1 and keep.parent_index == 0
    continued = run_episode(config, tiny_task, recorder, session, keep)
    assert continued.status == "FINISHED", continued.reason
    assert continued.epochs == 1 and continued.total_epochs == 2
    steps = [step for step, _ in recorder.metric_history(continued.run_id, "train/loss_d")]
    assert steps == [2]  # epochs numbered across the continuation


def test_a_continuation_at_another_dropout_fits_the_checkpoint(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    """PBT and PB2 continue a donor's checkpoint at new values: dropout moved to 0 (PB2 proposes the box's
    bounds) and back keeps the networks' layout."""
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    session = recorder.start_session("s")
    spec = EpisodeSpec.fresh(0, HP, epochs=1, seed=7, checkpoint_dir=tmp_path / "ep0", action="pbt")
    donor = run_episode(config, tiny_task, recorder, session, spec)
    for index, dropout in ((1, 0.0), (2, 0.2)):
        assert donor.ok and donor.checkpoint is not None, donor.reason
        spec = EpisodeSpec(
            index,
            {**HP, "dropout": dropout},
            epochs=1,
            seed=7,
            checkpoint_dir=tmp_path / f"ep{index}",
            action="pbt",
            resume_from=donor.checkpoint,
            prior_epochs=donor.total_epochs,
            parent_index=donor.index,
        )
        donor = run_episode(config, tiny_task, recorder, session, spec)
    assert donor.ok and donor.total_epochs == 3, donor.reason


def test_a_crashing_episode_fails_alone(tmp_path: Path, tiny_task, store: Path, experiment: str) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    session = recorder.start_session("s")

    def crashing(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    spec = EpisodeSpec.fresh(0, HP, epochs=1, seed=7, checkpoint_dir=tmp_path / "e", action="new")
    result = run_episode(config, tiny_task, recorder, session, spec, forecaster_factory=crashing)
    assert result.status == "FAILED" and result.reason == "RuntimeError: CUDA out of memory (simulated)"
    run = recorder.run(result.run_id)
    assert run.status == "FAILED" and run.failure == result.reason
