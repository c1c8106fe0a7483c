"""Real state files for the damaged-file and version tests: a session run by an instant stand-in episode
(no GAN), its state folder, and small ways to damage a file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gan_trader.config import ExperimentConfig, load_config
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tuning.episode import FINISHED, EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import EpisodeJob, LocalExecutor
from gan_trader.tuning.session import SessionResult, run_session

if TYPE_CHECKING:  # also imported by subprocess entries that have only this folder on sys.path
    from cli_runner import CliRunner


def session_config(folder: Path, store: Path, *extra: str) -> ExperimentConfig:
    """No feature builders; sessions under folder/runs; the shared MLflow database under `store`."""
    return load_config(
        None,
        [
            "features.builders={}",
            "features.cache_dir=null",
            f"runs_dir={folder / 'runs'}",
            f"tracking.uri=sqlite:///{store / 'mlflow.db'}",
            f"tracking.artifact_root={folder / 'artifacts'}",
            "tuning.warm_start=false",
            "tuning.epochs_per_episode=1",
            "tuning.init_points=1",
            *extra,
        ],
    )


def instant_episode(job: EpisodeJob, task: ForecastTask, recorder: Recorder | None = None) -> EpisodeResult:
    """An episode that trains nothing: instant_result's score, no checkpoint, nothing logged."""
    return replace(instant_result(job.spec), total_epochs=job.spec.epochs, checkpoint=None)


def run_instant_session(
    config: ExperimentConfig,
    task: ForecastTask,
    recorder: Recorder,
    strategy: str,
    *,
    episodes: int = 2,
    resume: str | None = None,
) -> SessionResult:
    return run_session(
        config,
        task,
        recorder,
        strategy=strategy,
        episodes=episodes,
        executor=LocalExecutor(1, instant_episode),
        resume=resume,
        quiet=True,
    )


def resume_from_cli(
    run_cli: CliRunner, store: Path, session: str, *options: str
) -> tuple[int, str, list[str]]:
    """`gan-trader tune experiments/default.yaml OPTIONS --resume SESSION --quiet` without feature builders,
    on the shared store: its exit code, its stderr and stderr's non-blank lines."""
    code, _out, err = run_cli(
        [
            "tune",
            "experiments/default.yaml",
            *options,
            "--resume",
            session,
            "--quiet",
            "--set",
            "features.builders={}",
            "--set",
            f"tracking.uri=sqlite:///{store / 'mlflow.db'}",
        ]
    )
    return code, err, [line for line in err.splitlines() if line.strip()]


def truncate(path: Path) -> None:
    """What a full disk or a copy that stopped half-way leaves: the first half of the file."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite(path: Path) -> None:
    """What another program writing over the file leaves: bytes that mean nothing here."""
    path.write_bytes(b"\x00\x13not what was written here\xff" * 8)


def instant_result(spec: EpisodeSpec) -> EpisodeResult:
    """An episode result that trains nothing, a score that depends on the index (a proxy-training runner;
    instant_episode wraps it for executors)."""
    return EpisodeResult(
        index=spec.index,
        status=FINISHED,
        run_id=None,
        hyperparameters=dict(spec.hyperparameters),
        metrics={"val/crps_rel": 1.0 - 0.01 * spec.index, "val/mae": 0.01},
        epochs=spec.epochs,
        total_epochs=spec.prior_epochs + spec.epochs,
        checkpoint=spec.checkpoint_dir / "last.pt",
        action=spec.action,
        suggestion=spec.suggestion,
    )
