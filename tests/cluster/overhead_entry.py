"""Measure what scheduling and logging add to every episode on the cluster (the cluster test runs this in its
own process: joining a cluster sets process-wide Ray settings).

Episodes that train nothing run as Ray tasks on the worker node through the RayExecutor; each logs through
the Recorder what a real episode logs (params, per-epoch metrics, the config, the predictions, a 256 KiB
checkpoint) to the tracking server. Prints one JSON line: seconds a slot spends per episode besides training
(`per_episode_s`), of which logging inside the task (`logging_s`); the rest is scheduling.

usage: overhead_entry.py RAY_ADDRESS TRACKING_URI EXPERIMENT EPISODES
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gan_trader.config import TrackingConfig, load_config
from gan_trader.tracking.recorder import FINISHED, Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import EpisodeJob, RayExecutor


def logging_only_episode(job: EpisodeJob, task: Any, recorder: Recorder | None) -> EpisodeResult:
    started = time.perf_counter()
    recorder = open_recorder(job.tracking, job.experiment)
    with recorder.episode(job.session_id, job.spec.index, {"hp": job.spec.hyperparameters}) as run_id:
        for epoch in range(1, 4):
            recorder.log_metrics(run_id, {"train/loss_d": -1.0, "train/loss_g": 1.0}, step=epoch)
        recorder.log_metrics(run_id, {f"val/metric_{i}": float(i) for i in range(40)})
        recorder.log_text(run_id, "gan: {}\n" * 100, "config.yaml")
        recorder.log_text(run_id, "span,origin,price\n" * 500, "predictions.csv")
        with tempfile.TemporaryDirectory() as scratch:
            checkpoint = Path(scratch) / "last.pt"
            checkpoint.write_bytes(b"\0" * 256 * 1024)
            recorder.log_artifact(run_id, checkpoint, "checkpoint")
    logging_s = time.perf_counter() - started
    return EpisodeResult(job.spec.index, FINISHED, run_id, {}, metrics={"logging_s": logging_s})


def run_all(executor: RayExecutor, jobs: list[EpisodeJob]) -> tuple[list[EpisodeResult], float]:
    """Run `jobs` keeping every slot busy; their results and the wall-clock seconds."""
    started, results = time.perf_counter(), []
    for job in jobs:
        if executor.running >= executor.slots:
            results += executor.gather()
        executor.submit(job, None)  # type: ignore[arg-type]
    while executor.running:
        results += executor.gather()
    assert all(r.ok for r in results) and len(results) == len(jobs), results
    return results, time.perf_counter() - started


def main(address: str, uri: str, experiment: str, episodes: int) -> None:
    config = load_config(None, [f"tracking.uri={uri}"])
    recorder = open_recorder(TrackingConfig(uri=uri), experiment)
    session_id = recorder.start_session("overhead")
    jobs = [
        EpisodeJob(config, recorder.tracking, experiment, session_id, EpisodeSpec(i, {}, 0, i, Path(".")))
        for i in range(episodes + 2)
    ]
    executor = RayExecutor(2, address=address, episode_fn=logging_only_episode)
    executor.bind(recorder)
    try:
        run_all(executor, jobs[:2])  # starts the Ray workers: once per session, not per episode
        results, wall = run_all(executor, jobs[2:])
    finally:
        executor.close()
    recorder.finish(session_id, FINISHED)
    per_episode = wall * executor.slots / episodes
    logging_s = sum(r.metrics["logging_s"] for r in results) / episodes
    report = {"episodes": episodes, "slots": executor.slots, "per_episode_s": per_episode}
    report.update(logging_s=logging_s, scheduling_s=per_episode - logging_s)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
