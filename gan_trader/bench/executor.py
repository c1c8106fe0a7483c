"""Ray executor throughput (SPEC section 11): episodes per hour with 2 Ray workers against 1, on 2 cores.

Both runs train the same small real GAN episodes (same hyperparameters and seeds) through `RayExecutor`,
each worker with one torch thread; a warm-up episode per worker (process start, imports) is excluded, so
the figure is steady-state throughput. Target: 2 workers give at least 1.7x the episodes per hour of 1.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from gan_trader.bench import BenchResult
from gan_trader.config import ExperimentConfig, load_config

TARGET = 1.7


def bench_config(workdir: Path, quick: bool) -> ExperimentConfig:
    """Small real episodes: two to three years of MSFT, technical features, a narrow GAN."""
    return load_config(
        None,
        [
            "features.builders={technical: {}}",
            "features.cache_dir=null",
            f"data.start={'2015-01-01' if quick else '2013-01-01'}",
            f"gan.epochs={2 if quick else 3}",
            "gan.generator.hidden=32",
            "gan.n_critic=2",
            "gan.mh.candidates=8",
            "gan.plot_epochs=[]",
            "gan.early_stopping_patience=null",
            "gan.device=cpu",
            f"runs_dir={workdir / 'runs'}",
            f"tracking.uri=sqlite:///{workdir / 'mlflow.db'}",
            f"tracking.artifact_root={workdir / 'artifacts'}",
        ],
    )


def _throughput(config: ExperimentConfig, task, recorder, workers: int, episodes: int) -> tuple[float, float]:
    """Episodes per hour (after one warm-up episode per worker) and the timed seconds."""
    from gan_trader.tuning.episode import EpisodeSpec
    from gan_trader.tuning.executor import EpisodeJob, RayExecutor, absolute_paths
    from gan_trader.tuning.strategies import config_hyperparameters

    config = absolute_paths(config)
    names = list(config.tuning.space)
    params = config_hyperparameters(config, names)
    session = recorder.start_session(f"bench-ray-{workers}")
    tracking = config.tracking
    executor = RayExecutor(workers, torch_threads=1)

    def jobs(start: int, count: int) -> list[EpisodeJob]:
        folder = Path(config.runs_dir) / "bench" / session
        return [
            EpisodeJob(
                config,
                tracking,
                recorder.experiment_name,
                session,
                EpisodeSpec(i, params, config.gan.epochs, config.seed + i, folder / f"{i:03d}", "fixed"),
                torch_threads=1,
            )
            for i in range(start, start + count)
        ]

    def run(batch: list[EpisodeJob]) -> None:
        for job in batch:
            executor.submit(job, task)
        results = []
        while executor.running:
            results.extend(executor.gather())
        failed = [r.reason for r in results if not r.ok]
        if failed:
            raise RuntimeError(f"benchmark episode failed: {failed[0]}")

    try:
        run(jobs(0, workers))  # warm-up: worker processes start and import torch
        started = time.perf_counter()
        run(jobs(workers, episodes))
        seconds = time.perf_counter() - started
    finally:
        executor.close()
        recorder.finish(session)
    return episodes * 3600.0 / seconds, seconds


def bench_ray(quick: bool = False) -> list[BenchResult]:
    """Episodes/hour with 2 Ray workers vs 1 on the same small real episodes; ratio target >= 1.7."""
    from gan_trader.tracking.store import open_recorder
    from gan_trader.workflow.prepare import prepare

    episodes = 4 if quick else 8
    with tempfile.TemporaryDirectory(prefix="gan-trader-bench-ray-") as tmp:
        workdir = Path(tmp)
        config = bench_config(workdir, quick)
        task = prepare(config, use_cache=False).task
        recorder = open_recorder(config.tracking, "bench-ray")
        one, one_s = _throughput(config, task, recorder, 1, episodes)
        two, two_s = _throughput(config, task, recorder, 2, episodes)
    ratio = two / one
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    details = {
        "episodes": episodes,
        "episodes_per_hour_1_worker": one,
        "episodes_per_hour_2_workers": two,
        "seconds_1_worker": one_s,
        "seconds_2_workers": two_s,
        "cpu_count": os.cpu_count(),
        "load_average_1min_after": load,
        "epochs_per_episode": config.gan.epochs,
        "rows": len(task.features),
    }
    return [
        BenchResult(
            "ray_executor.episodes_per_hour_1_worker", one, "episodes/h", "reference", details=details
        ),
        BenchResult("ray_executor.episodes_per_hour_2_workers", two, "episodes/h", "reference"),
        BenchResult(
            "ray_executor.speedup_2_vs_1",
            ratio,
            "x",
            f">= {TARGET}x",
            ratio=ratio,
            passed=ratio >= TARGET,
            details=details,
        ),
    ]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps([r.to_dict() for r in bench_ray(quick="--quick" in sys.argv)], indent=2))
