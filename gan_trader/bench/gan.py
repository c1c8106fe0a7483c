"""GAN training-step benchmark (SPEC section 11): achieved GFLOP/s against the machine's float32 GEMM rate.

The step is the original's size: generator LSTM 500 units over 17 steps of 112 features and the target's
history (the noise enters its head), batch 64 with gan.train_samples draws per window, critic Conv1D
32/64/128 over the window with the features as channels + dense 220/220/1 (the next value enters the first
dense layer), WGAN-GP, one critic and one generator update per batch. It runs `GanTrainer.step`, the code
path training uses, all of it through autograd.

FLOPs are counted analytically from the layer sizes: the matrix products the step needs (multiply-add = 2
FLOPs; element-wise work is not counted, and neither is work a kernel may do beyond what is needed, such as
the LSTM's recurrent product with the zero initial state or a gradient w.r.t. the data windows). B windows,
M draws per window:
- LSTM forward: input projection of all steps 2*B*T*In*4H, recurrent products 2*B*(T-1)*H*4H (h_{-1} = 0).
- LSTM backward: weight gradients 2*B*T*In*4H + 2*B*(T-1)*H*4H, recurrent input gradients 2*B*(T-1)*4H*H.
  One LSTM forward per batch serves both updates (the critic reads its detached draws).
- generator head: the encoding's share once per window (2*H*U), the noise's and the output per draw
  (2*nz*U + 2*U); forward, and twice that backward.
- critic: per-window forward FLOPs Fw of the encoder (convolutions 2*L_out*C_out*C_in*k and the window's
  share of the first dense layer) and per-value FLOPs Fv of the head (the value's share of the first dense
  layer and the dense layers after it). Critic update: forward of B encodings and of B real, B*M generated
  and B*M interpolated values (B*Fw + B*(1+2M)*Fv), the penalty's input gradient (B*M*Fv), the backward of
  weights and inputs over the forward (2x the forward) and the double backward through the penalty's
  gradient graph (2*B*M*Fv). Generator update: the frozen critic's encodings and values (B*Fw + B*M*Fv)
  and the values' input gradient (B*M*Fv).
The GEMM rate is the LSTM's GEMM shapes, in the step's proportions, with the same threads, through each
float32 product torch offers here (torch.mm's BLAS and, on CPU, oneDNN's matmul): the machine's rate is the
fastest of them. MKL, torch's BLAS, runs its AVX2 path on AMD processors, so on an AVX-512 EPYC torch.mm
alone would understate the machine and could let the step's ratio exceed 1. The products are measured in
rounds interleaved with the step's rounds (the machine may be shared): the ratio is per round, median; a
CPU-time ratio is reported beside it.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from gan_trader.bench import BenchResult
from gan_trader.config import CriticConfig, GanConfig
from gan_trader.models.devices import configure_process_memory, describe, resolve_device
from gan_trader.models.wgan import Batch, GanTrainer

BATCH, SEQ_LEN, FEATURES, HIDDEN, NOISE = 64, 17, 112, 500, 8
SAMPLES = 4  # gan.train_samples
TARGET_RATIO = 0.80


def original_config(device: str = "cpu", bf16: bool = False) -> GanConfig:
    """The original's sizes with this project's WGAN-GP critic (padded to fit the 17-day window)."""
    return GanConfig.model_validate(
        {
            "seq_len": SEQ_LEN,
            "batch_size": BATCH,
            "generator": {"hidden": HIDDEN, "layers": 1, "noise_dim": NOISE},
            "train_samples": SAMPLES,
            "loss": "wgan-gp",
            "n_critic": 1,
            "device": device,
            "bf16": bf16,
        }
    )


def critic_forward_flops(config: CriticConfig, seq_len: int, n_features: int) -> tuple[int, int]:
    """Forward FLOPs of the critic: (per window: the encoder, per value: the head)."""
    geometry = config.layer_geometry(seq_len)
    channels = 1 + (n_features if config.conditioning else 0)
    window = 0
    for filters, (_, _, out_len) in zip(config.filters, geometry, strict=True):
        window += 2 * out_len * filters * channels * config.kernel_size
        channels = filters
    first, *rest = config.dense
    window += 2 * channels * geometry[-1][2] * first
    value, width = 2 * first, first
    for units in [*rest, 1]:
        value += 2 * width * units
        width = units
    return window, value


def step_flops(config: GanConfig, n_features: int, batch: int) -> dict[str, int]:
    """Analytic FLOPs of one training step with one critic and one generator update (see module docstring)."""
    t, h = config.seq_len, config.generator.hidden
    n_in = 1 + (n_features if config.generator.conditioning else 0)
    draws = batch * config.train_samples
    projection = 2 * batch * t * n_in * 4 * h
    recurrent = 2 * batch * (t - 1) * h * 4 * h
    units, noise = config.generator.head, config.generator.noise_dim
    head = 2 * batch * h * units + draws * (2 * noise * units + 2 * units)
    window, value = critic_forward_flops(config.critic, t, n_features)
    samples = config.train_samples
    critic_forward = batch * window + batch * (1 + 2 * samples) * value
    return {
        "lstm_forward": projection + recurrent,
        "lstm_backward": projection + 2 * recurrent,
        "generator_head": 3 * head,
        "critic_update": 3 * critic_forward + 3 * draws * value,
        "generator_through_critic": batch * window + 2 * draws * value,
    }


@functools.cache
def onednn_available() -> bool:
    """Whether torch exposes oneDNN's float32 matrix product (x86/arm CPU builds with mkldnn)."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


Product = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def gemm_backends(device: torch.device) -> dict[str, Product]:
    """The float32 matrix products torch offers here, as `product(a, b, out)` returning a @ b.

    torch.mm writes into `out`; oneDNN's op allocates its result (as the training step's calls do), so its
    rate is not lowered by a copy the step does not make.

    `torch.mm` is the BLAS torch was built with (MKL in the PyPI wheels); on CPU `onednn` is oneDNN's matmul,
    which torch also ships. The machine's GEMM rate is the faster of them.
    """

    def blas(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return torch.mm(a, b, out=out)

    backends: dict[str, Product] = {"torch.mm": blas}
    if device.type == "cpu" and onednn_available():

        def onednn(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
            result: torch.Tensor = torch.ops.mkldnn._linear_pointwise(a, b.t(), None, "none", [], "")
            return result

        backends["onednn"] = onednn
    return backends


def gemm_mix(
    config: GanConfig,
    n_features: int,
    batch: int,
    device: torch.device,
    product: Product,
) -> tuple[Callable[[], None], int]:
    """A closure running the step's GEMM shapes in the step's proportions through `product`, and its FLOPs."""
    t, h = config.seq_len, config.generator.hidden
    n_in = 1 + (n_features if config.generator.conditioning else 0)
    shapes = [  # (m, k, n, count)
        (batch * t, n_in, 4 * h, 1),  # input projection
        (batch, h, 4 * h, t - 1),  # recurrent forward
        (batch, 4 * h, h, t - 1),  # recurrent input gradient
        (4 * h, batch * (t - 1), h, 1),  # recurrent weight gradient
        (4 * h, batch * t, n_in, 1),  # input weight gradient
    ]
    operands = [
        (
            torch.randn(m, k, device=device),
            torch.randn(k, n, device=device),
            torch.empty(m, n, device=device),
            c,
        )
        for m, k, n, c in shapes
    ]
    flops = sum(2 * m * k * n * c for m, k, n, c in shapes)

    def run() -> None:
        for a, b, out, count in operands:
            for _ in range(count):
                product(a, b, out)

    return run, flops


def _timed(fn: Callable[[], object], repeats: int, device: torch.device) -> tuple[float, float]:
    """Mean wall-clock and process CPU seconds per call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats, (time.process_time() - cpu_start) / repeats


def bench_gan_step(
    quick: bool, device: str = "cpu", threads: int | None = None, bf16: bool = False
) -> list[BenchResult]:
    """Time GanTrainer.step at the original's size; compare achieved GFLOP/s with the GEMM rate.

    Calls `configure_process_memory` first (idempotent), as the CLI and executor workers do at start-up, so
    the step is timed under the allocator setting training runs with, whoever runs the benchmark.

    :param threads: torch intra-op threads for both measurements (default: the current setting); restored.
    :param bf16: the step under bf16 autocast (gan.bf16; CUDA), against the same float32 GEMM mix.
    """
    memory_configured = configure_process_memory()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        results = _bench(quick, device, bf16)
    finally:
        torch.set_num_threads(previous_threads)
    for result in results:
        result.details["process_memory_configured"] = memory_configured
    return results


@dataclass
class _Rounds:
    """Per round: the step's and the GEMM mix's (fastest backend) seconds, and their ratios."""

    step: list[float] = field(default_factory=list)
    gemm: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    cpu_ratio: list[float] = field(default_factory=list)
    by_backend: dict[str, list[float]] = field(default_factory=dict)


GemmMixes = dict[str, tuple[Callable[[], None], int]]


def _bench(quick: bool, device: str, bf16: bool = False) -> list[BenchResult]:
    torch_device = resolve_device(device)
    config = original_config(device, bf16)
    generator = torch.Generator(device=torch_device).manual_seed(0)
    trainer = GanTrainer(config, FEATURES, SEQ_LEN, torch_device)
    trainer.noise.manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, device=torch_device)

    batch = Batch(rand(BATCH, SEQ_LEN, FEATURES + 1), rand(BATCH))
    flops = step_flops(config, FEATURES, BATCH)
    mixes = {
        name: gemm_mix(config, FEATURES, BATCH, torch_device, product)
        for name, product in gemm_backends(torch_device).items()
    }
    rounds, steps = (3, 2) if quick else (7, 5)
    for _ in range(2):  # warm-up: allocator, oneDNN primitive caches
        trainer.step(batch)
        for gemm, _ in mixes.values():
            gemm()
    timed = _time_rounds(trainer, batch, mixes, sum(flops.values()), rounds, steps, torch_device)
    ratio = statistics.median(timed.ratio)
    kind = "gpu" if torch_device.type == "cuda" else "cpu"
    threads_label = f", {torch.get_num_threads()} thread(s)" if kind == "cpu" else ""
    return [
        BenchResult(
            name=f"gan.train_step.{kind}{threads_label}{', bf16' if bf16 else ''}",
            value=sum(flops.values()) / statistics.median(timed.step) / 1e9,
            unit="GFLOP/s",
            target=f">= {TARGET_RATIO:.0%} of float32 GEMM GFLOP/s",
            ratio=ratio,
            passed=ratio >= TARGET_RATIO,
            details=_details(timed, flops, next(iter(mixes.values()))[1], torch_device, rounds, steps),
        )
    ]


def _time_rounds(
    trainer: GanTrainer,
    batch: Batch,
    mixes: GemmMixes,
    step_flops_total: int,
    rounds: int,
    steps: int,
    device: torch.device,
) -> _Rounds:
    """Time the GEMM mixes and the step in interleaved rounds (the machine may be shared)."""
    gemm_flops = next(iter(mixes.values()))[1]
    timed = _Rounds(by_backend={name: [] for name in mixes})
    for _ in range(rounds):
        by_backend = {name: _timed(gemm, steps, device) for name, (gemm, _) in mixes.items()}
        for name, (wall, _) in by_backend.items():
            timed.by_backend[name].append(wall)
        # The machine's GEMM rate in this round: its fastest float32 product.
        gemm_time, gemm_cpu = min(by_backend.values())
        step_time, step_cpu = _timed(lambda: trainer.step(batch), steps, device)
        timed.gemm.append(gemm_time)
        timed.step.append(step_time)
        timed.ratio.append((step_flops_total / step_time) / (gemm_flops / gemm_time))
        # CPU-time ratio: less sensitive to other processes on a shared machine (meaningful with 1 thread).
        timed.cpu_ratio.append((step_flops_total / step_cpu) / (gemm_flops / gemm_cpu))
    return timed


def _details(
    timed: _Rounds, flops: dict[str, int], gemm_flops: int, device: torch.device, rounds: int, steps: int
) -> dict[str, Any]:
    """The figures behind the step's ratio, for the JSON report and the command-line summary."""
    total_flops = sum(flops.values())
    step_time = statistics.median(timed.step)
    gemm_rate = gemm_flops / statistics.median(timed.gemm) / 1e9
    backend_rates = {
        name: gemm_flops / statistics.median(times) / 1e9 for name, times in timed.by_backend.items()
    }
    return {
        "device": describe(device),
        "threads": torch.get_num_threads(),
        "windows_per_s": BATCH / step_time,
        "step_ms": step_time * 1e3,
        "step_gflop": total_flops / 1e9,
        "flops": flops,
        "gemm_gflops": gemm_rate,
        "gemm_gflops_by_backend": backend_rates,
        "gemm_backend": max(backend_rates, key=lambda name: backend_rates[name]),
        "ratio_per_round": timed.ratio,
        "best_ratio": max(timed.ratio),
        "cpu_time_ratio": statistics.median(timed.cpu_ratio),
        "rounds": rounds,
        "steps_per_round": steps,
        "size": f"LSTM {HIDDEN}, {FEATURES} features + history, {SEQ_LEN} steps, noise {NOISE} at the head, "
        f"batch {BATCH} x {SAMPLES} draws",
    }


def bench_gan_steps(quick: bool) -> list[BenchResult]:
    """The `make bench` entry: CPU at 1 thread and at torch's default, and the GPU when there is one.

    One thread shows the kernel's efficiency; the default (all cores) is what a lone experiment gets.
    """
    results = bench_gan_step(quick, "cpu", threads=1)
    if torch.get_num_threads() > 1:
        results += bench_gan_step(quick, "cpu")
    if torch.cuda.is_available():
        results += bench_gan_step(quick, "cuda")
    return results


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="GAN training-step benchmark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    devices = [args.device]
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for result in bench_gan_step(args.quick, device, args.threads):
            d = result.details
            print(
                f"{result.name}: {d['windows_per_s']:.0f} windows/s, {result.value:.1f} GFLOP/s achieved, "
                f"GEMM {d['gemm_gflops']:.1f} GFLOP/s ({d['gemm_backend']}; "
                + ", ".join(f"{name} {rate:.1f}" for name, rate in d["gemm_gflops_by_backend"].items())
                + f"), ratio {result.ratio:.2f} (CPU-time ratio "
                f"{d['cpu_time_ratio']:.2f}; target {TARGET_RATIO:.2f}) on {d['device']}"
            )
            print(json.dumps(d, default=str))


if __name__ == "__main__":
    main()
