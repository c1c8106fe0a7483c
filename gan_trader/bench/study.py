"""Where a study's time goes, and whether the shipped study fits its budget (SPEC section 11).

A slice of the shipped study (its first target and seed, feature sets `history` and `volatility`, every model
and per-target model) runs in this process with one torch thread, as each of the shipped study's workers
does, in a fresh folder (empty feature cache and tracking store). It gives the cells per hour, each model's
time per cell, and the share of a GAN cell's time spent in `GanTrainer.step` (its training steps, the
critic-only epochs before MH included). The shipped study's wall time is then projected from them: every
cell of the full grid at its model's measured time (a set with more columns costs more, so this is a floor),
plus one build of the union's features per target (timed on the first target), over the study's workers.

`batched_lstm` measures the first step of the lever the study issue names, training a feature set's seeds
as one model: the study's seeds' generator LSTMs (the default experiment's units, window and batch x
draws) run forward and backward as one LSTM of seeds x units whose weights would be kept block-diagonal,
against one LSTM per seed, on one thread. Below 1 the batched form pays; the block-diagonal products are
seeds times the work of the separate ones, so it pays only where the separate runs are overhead-bound.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gan_trader.bench import BenchResult

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "experiments" / "feature_study.yaml"
TARGET_MINUTES = 90.0
SLICE_SETS = ["history", "volatility"]
FEATURE_COLUMNS = 10  # about the volatility set's columns: the width only scales both forms alike
# The quick mode checks the path end to end at a toy size; its figures say nothing about the target.
QUICK_OVERRIDES = [
    "gan.epochs=1",
    "gan.mh.chains=20",
    "gan.mh.candidates=2",
    "gan.mh.critic_epochs=0",
    "data.start=2014-01-02",
    "split.walk_forward.folds=0",
]


@contextlib.contextmanager
def step_timer() -> Iterator[dict[str, float]]:
    """Accumulate the wall time of the GAN's training steps in this process inside the block: those of a
    trainer with a critic (`score_generator` trains the same generator without one)."""
    from gan_trader.models.wgan import GanTrainer

    original = GanTrainer.step
    box = {"seconds": 0.0, "steps": 0.0}

    def timed(self: GanTrainer, *args: Any, **kwargs: Any) -> Any:
        if not self.uses_critic:
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            box["seconds"] += time.perf_counter() - started
            box["steps"] += 1

    GanTrainer.step = timed  # type: ignore[method-assign]
    try:
        yield box
    finally:
        GanTrainer.step = original  # type: ignore[method-assign]


def batched_lstm(seeds: int, quick: bool) -> BenchResult:
    """Seconds of one forward and backward pass of `seeds` LSTMs as one block-diagonal LSTM over the same
    pass of `seeds` separate LSTMs (see the module docstring), at the default experiment's shapes."""
    import torch

    from gan_trader.config import load_config
    from gan_trader.models.devices import torch_threads

    gan = load_config(ROOT / "experiments" / "default.yaml").gan
    batch = gan.batch_size * gan.train_samples
    width = FEATURE_COLUMNS + 1 + gan.generator.noise_dim  # a feature set's columns, the target, the noise
    hidden, steps, repeats = gan.generator.hidden, gan.seq_len, 5 if quick else 40
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(batch, steps, width, generator=generator) for _ in range(seeds)]
    separate = [torch.nn.LSTM(width, hidden, batch_first=True) for _ in range(seeds)]
    joined = torch.nn.LSTM(seeds * width, seeds * hidden, batch_first=True)
    stacked = torch.cat(inputs, dim=-1)

    def one_each() -> None:
        sum(lstm(x)[0][:, -1].sum() for lstm, x in zip(separate, inputs, strict=True)).backward()

    def as_one() -> None:
        joined(stacked)[0][:, -1].sum().backward()

    def timed(step: Callable[[], None]) -> float:
        for _ in range(3):
            step()
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        return (time.perf_counter() - started) / repeats

    with torch_threads(1):
        apart, together = timed(one_each), timed(as_one)
    return BenchResult(
        f"study: {seeds} seeds' LSTMs as one block-diagonal LSTM, time over separate ones (1 thread)",
        together / apart,
        "ratio",
        "< 1: batching the seeds pays",
        ratio=together / apart,
        passed=together < apart,
        details={
            "batch": batch,
            "window": steps,
            "inputs": width,
            "hidden": hidden,
            "separate_ms": round(apart * 1e3, 2),
            "block_diagonal_ms": round(together * 1e3, 2),
        },
    )


def bench_study(quick: bool) -> list[BenchResult]:
    from gan_trader.models.devices import torch_threads
    from gan_trader.workflow.study import load_study, run_study
    from gan_trader.workflow.study.data import prepare_target

    # The shipped files name the bundled data relative to the repository root; everything written goes to a
    # fresh folder.
    with tempfile.TemporaryDirectory(prefix="gan-trader-bench-study-") as tmp, contextlib.chdir(ROOT):
        folder = Path(tmp)
        overrides = [
            f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
            f"tracking.artifact_root={folder / 'artifacts'}",
            f"features.cache_dir={folder / 'cache'}",
            "executor.workers=1",
            *(QUICK_OVERRIDES if quick else []),
        ]
        full = load_study(SHIPPED, overrides=overrides)
        workers = load_study(SHIPPED).base.executor.workers
        piece = full.restricted(targets=full.targets[:1], seeds=full.seeds[:1], feature_sets=SLICE_SETS)
        with torch_threads(1):
            with step_timer() as steps:
                started = time.perf_counter()
                run = run_study(piece, quiet=True)
                wall = time.perf_counter() - started
            started = time.perf_counter()
            prepare_target(full.target_config(full.targets[0]))
            features_s = time.perf_counter() - started
    per_model: dict[str, list[float]] = {}
    for outcome in run.outcomes:
        per_model.setdefault(outcome.cell.model, []).append(outcome.wall_s)
    mean = {model: sum(times) / len(times) for model, times in per_model.items()}
    gan_cells = [o.wall_s for o in run.outcomes if full.model(o.cell.model).is_gan]
    share = steps["seconds"] / sum(gan_cells) if gan_cells else float("nan")
    cells = len(run.outcomes)
    projected = (sum(mean.get(c.model, 0.0) for c in full.cells()) + features_s * len(full.targets)) / workers
    size = " (quick size)" if quick else ""
    details = {
        "slice": piece.describe(),
        "seconds_per_cell": {m: round(v, 1) for m, v in mean.items()},
        "slice_wall_s": round(wall, 1),
        "union_features_s_per_target": round(features_s, 1),
        "gan_steps": int(steps["steps"]),
        "full_study": full.describe(),
        "workers": workers,
    }
    return [
        batched_lstm(len(full.seeds), quick),
        BenchResult(
            f"study cells per hour (1 worker, 1 thread){size}",
            cells / wall * 3600,
            "cells/h",
            "reference",
            details=details,
        ),
        BenchResult(
            f"study: share of a GAN cell's time in its training steps{size}", share, "fraction", "reference"
        ),
        BenchResult(
            f"shipped study, projected wall time on {workers} workers{size}",
            projected / 60,
            "min",
            f"<= {TARGET_MINUTES:.0f} min on 2 cores",
            ratio=projected / 60 / TARGET_MINUTES,
            passed=None if quick else projected / 60 <= TARGET_MINUTES,
            details=details,
        ),
    ]
