"""GAN training-step benchmark (SPEC section 11): achieved GFLOP/s against the machine's float32 GEMM rate.

The step is the original's size: generator LSTM 500 units over 17 steps of 112 features (+ the noise vector),
batch 64, critic Conv1D 32/64/128 + dense 220/220/1 with the features as channels, WGAN-GP, one critic and one
generator update per batch. It runs `GanTrainer.step`, the code path training uses.

FLOPs are counted analytically from the layer sizes: the matrix products the step needs (multiply-add = 2
FLOPs; element-wise work is not counted, and neither is work a kernel may do beyond what is needed, such as
the LSTM's recurrent product with the zero initial state or a gradient w.r.t. the data windows):
- LSTM forward: input projection of all steps 2*B*T*In*4H, recurrent products 2*B*(T-1)*H*4H (h_{-1} = 0).
- LSTM backward: weight gradients 2*B*T*In*4H + 2*B*(T-1)*H*4H, recurrent input gradients 2*B*(T-1)*4H*H.
  One LSTM forward per batch serves both updates (the critic reads its detached output).
- dense head: 2*B*H forward, twice that backward.
- critic: per-sample forward FLOPs of its convs (2*L_out*C_out*C_in*k) and denses (2*in*out), split into
  Ff, the first convolution's feature channels (computed once per batch and shared by the real, generated and
  interpolated series, see `Critic.prepare`), and Fs, everything else.
  Critic update: forward on real+fake+interpolated (3B*Fs + B*Ff), input gradient for the penalty (B*Fs),
  backward of weights and inputs over the 3B forward (6B*Fs) and the weights of the feature part (B*Ff),
  double backward through the penalty's gradient graph (2B*Fs). Generator update: forward through the
  frozen critic (B*Fs + B*Ff) and the input gradient of the series (B*Fs).
The GEMM rate is the LSTM's GEMM shapes, in the step's proportions, with the same threads, through each
float32 product torch offers here (torch.mm's BLAS and, on CPU, oneDNN; see `models.gemm`): the machine's
rate is the fastest of them. MKL, torch's BLAS, runs its AVX2 path on AMD processors, so on an AVX-512
EPYC torch.mm alone would understate the machine and could let the step's ratio exceed 1. The
products are measured in rounds interleaved with the step's rounds (the machine may be shared): the ratio
is per round, median; a CPU-time ratio is reported beside it. `PlainPort`, a straightforward port of the
same step, is timed in the same rounds for comparison (windows/s).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from gan_trader.bench import BenchResult
from gan_trader.config import CriticConfig, GanConfig
from gan_trader.models.devices import configure_process_memory, describe, resolve_device
from gan_trader.models.gemm import onednn_available
from gan_trader.models.wgan import Batch, GanTrainer

BATCH, SEQ_LEN, FEATURES, HIDDEN, NOISE = 64, 17, 112, 500, 8
TARGET_RATIO = 0.80


def original_config(device: str = "cpu") -> GanConfig:
    """The original's sizes with this project's WGAN-GP critic (LayerNorm, padded to fit 18 steps)."""
    return GanConfig.model_validate(
        {
            "seq_len": SEQ_LEN,
            "batch_size": BATCH,
            "generator": {"hidden": HIDDEN, "layers": 1, "noise_dim": NOISE},
            "loss": "wgan-gp",
            "n_critic": 1,
            "device": device,
        }
    )


def critic_forward_flops(config: CriticConfig, seq_len: int, n_features: int) -> tuple[int, int]:
    """Per-sample forward FLOPs of the critic: (series part, feature channels of the first convolution)."""
    flops = 0
    geometry = config.layer_geometry(seq_len + 1)
    feature_channels = n_features if config.conditioning else 0
    feature_flops = 2 * geometry[0][2] * config.filters[0] * feature_channels * config.kernel_size
    channels = 1
    for filters, (_, _, out_len) in zip(config.filters, geometry, strict=True):
        flops += 2 * out_len * filters * channels * config.kernel_size
        channels = filters
    width = channels * geometry[-1][2]
    for units in [*config.dense, 1]:
        flops += 2 * width * units
        width = units
    return flops, feature_flops


def step_flops(config: GanConfig, n_features: int, batch: int) -> dict[str, int]:
    """Analytic FLOPs of one training step with one critic and one generator update (see module docstring)."""
    t, h = config.seq_len, config.generator.hidden
    n_in = n_features + config.generator.noise_dim
    projection = 2 * batch * t * n_in * 4 * h
    recurrent = 2 * batch * (t - 1) * h * 4 * h
    lstm_forward = projection + recurrent + 2 * batch * h
    lstm_backward = projection + 2 * recurrent + 4 * batch * h
    series, features = critic_forward_flops(config.critic, t, n_features)
    return {
        "lstm_forward": lstm_forward,
        "lstm_backward": lstm_backward,
        "critic_update": batch * (12 * series + 2 * features),
        "generator_through_critic": batch * (2 * series + features),
    }


Product = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def gemm_backends(device: torch.device) -> dict[str, Product]:
    """The float32 matrix products torch offers here, as `product(a, b, out)` returning a @ b.

    torch.mm writes into `out`; oneDNN's op allocates its result (as the training step's calls do), so its
    rate is not lowered by a copy the step does not make.

    `torch.mm` is the BLAS torch was built with (MKL in the PyPI wheels); on CPU `onednn` is oneDNN's matmul,
    which torch also ships and `gemm.matmul_nt` uses. The machine's GEMM rate is the faster of them.
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
    n_in = n_features + config.generator.noise_dim
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


class PlainPort:
    """A straightforward PyTorch port of the same step, timed for comparison (windows/s), never for training.

    nn.LSTM generator, nn.Conv1d critic with the features concatenated as channels, separate critic calls
    for real, generated and interpolated series, a second generator forward for the generator update,
    default (non-fused) Adam.
    """

    def __init__(self, config: GanConfig, n_features: int, device: torch.device) -> None:
        from torch import nn

        hidden, noise = config.generator.hidden, config.generator.noise_dim
        self.noise_dim, self.gp_weight = noise, config.gp_weight
        self.lstm = nn.LSTM(n_features + noise, hidden, batch_first=True).to(device)
        self.dense = nn.Linear(hidden, 1).to(device)
        layers: list[nn.Module] = []
        channels = 1 + n_features
        for filters, (left, right, _) in zip(
            config.critic.filters, config.critic.layer_geometry(config.seq_len + 1), strict=True
        ):
            layers += [
                nn.ConstantPad1d((left, right), 0.0),
                nn.Conv1d(channels, filters, config.critic.kernel_size, config.critic.strides),
                nn.GroupNorm(1, filters),
                nn.LeakyReLU(config.critic.lrelu_alpha),
            ]
            channels = filters
        width = channels * config.critic.layer_geometry(config.seq_len + 1)[-1][2]
        layers += [nn.Flatten(), nn.Linear(width, 220), nn.LeakyReLU(0.01), nn.Linear(220, 220)]
        layers += [nn.LeakyReLU(0.01), nn.Linear(220, 1)]
        self.critic = nn.Sequential(*layers).to(device)
        generator_params = [*self.lstm.parameters(), *self.dense.parameters()]
        self.opt_g = torch.optim.Adam(generator_params, lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr_d, betas=config.betas)
        self.device = device

    def _generate(self, window: torch.Tensor) -> torch.Tensor:
        z = torch.randn(window.shape[0], self.noise_dim, device=self.device)
        inputs = torch.cat([window, z.unsqueeze(1).expand(-1, window.shape[1], -1)], dim=2)
        out, _ = self.lstm(inputs)
        return self.dense(out[:, -1]).squeeze(1)

    def _score(self, window: torch.Tensor, history: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        series = torch.cat([history, value.unsqueeze(1)], dim=1).unsqueeze(1)
        features = torch.nn.functional.pad(window.transpose(1, 2), (0, 1))
        return self.critic(torch.cat([series, features], dim=1)).squeeze(1)

    def step(self, batch: Batch) -> None:
        with torch.no_grad():
            fake = self._generate(batch.window)
        weight = torch.rand(fake.shape[0], device=self.device)
        hat = (weight * batch.target + (1 - weight) * fake).requires_grad_(True)
        d_hat = self._score(batch.window, batch.history, hat)
        (grad,) = torch.autograd.grad(d_hat.sum(), hat, create_graph=True)
        penalty = ((grad.abs() - 1) ** 2).mean()
        real_score = self._score(batch.window, batch.history, batch.target).mean()
        fake_score = self._score(batch.window, batch.history, fake).mean()
        loss_d = fake_score - real_score + self.gp_weight * penalty
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        fake = self._generate(batch.window)
        loss_g = -self._score(batch.window, batch.history, fake).mean() + (fake - batch.target).abs().mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()


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


def bench_gan_step(quick: bool, device: str = "cpu", threads: int | None = None) -> list[BenchResult]:
    """Time GanTrainer.step at the original's size; compare achieved GFLOP/s with the GEMM rate.

    Calls `configure_process_memory` first (idempotent), as the CLI and executor workers do at start-up, so
    the step is timed under the allocator setting training runs with, whoever runs the benchmark.

    :param threads: torch intra-op threads for both measurements (default: the current setting); restored.
    """
    memory_configured = configure_process_memory()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        results = _bench(quick, device)
    finally:
        torch.set_num_threads(previous_threads)
    for result in results:
        result.details["process_memory_configured"] = memory_configured
    return results


@dataclass
class _Rounds:
    """Per round: the step's, the GEMM mix's (fastest backend) and the plain port's seconds, the ratios."""

    step: list[float] = field(default_factory=list)
    gemm: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    cpu_ratio: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    by_backend: dict[str, list[float]] = field(default_factory=dict)


GemmMixes = dict[str, tuple[Callable[[], None], int]]


def _bench(quick: bool, device: str) -> list[BenchResult]:
    torch_device = resolve_device(device)
    config = original_config(device)
    generator = torch.Generator(device=torch_device).manual_seed(0)
    trainer = GanTrainer(config, FEATURES, SEQ_LEN, torch_device)
    trainer.noise.manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, device=torch_device)

    batch = Batch(rand(BATCH, SEQ_LEN, FEATURES), rand(BATCH, SEQ_LEN), rand(BATCH))
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
    plain = PlainPort(config, FEATURES, torch_device)
    plain.step(batch)
    timed = _time_rounds(trainer, plain, batch, mixes, sum(flops.values()), rounds, steps, torch_device)
    ratio = statistics.median(timed.ratio)
    kind = "gpu" if torch_device.type == "cuda" else "cpu"
    threads_label = f", {torch.get_num_threads()} thread(s)" if kind == "cpu" else ""
    return [
        BenchResult(
            name=f"gan.train_step.{kind}{threads_label}",
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
    plain: PlainPort,
    batch: Batch,
    mixes: GemmMixes,
    step_flops_total: int,
    rounds: int,
    steps: int,
    device: torch.device,
) -> _Rounds:
    """Time the GEMM mixes, the step and the plain port in interleaved rounds (the machine may be shared)."""
    gemm_flops = next(iter(mixes.values()))[1]
    timed = _Rounds(by_backend={name: [] for name in mixes})
    for _ in range(rounds):
        by_backend = {name: _timed(gemm, steps, device) for name, (gemm, _) in mixes.items()}
        for name, (wall, _) in by_backend.items():
            timed.by_backend[name].append(wall)
        # The machine's GEMM rate in this round: its fastest float32 product.
        gemm_time, gemm_cpu = min(by_backend.values())
        step_time, step_cpu = _timed(lambda: trainer.step(batch), steps, device)
        timed.plain.append(_timed(lambda: plain.step(batch), max(steps // 2, 1), device)[0])
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
        "plain_port_windows_per_s": BATCH / statistics.median(timed.plain),
        "plain_port_ratio_same_flops": (total_flops / statistics.median(timed.plain)) / (gemm_rate * 1e9),
        "rounds": rounds,
        "steps_per_round": steps,
        "size": f"LSTM {HIDDEN}, {FEATURES} features (+{NOISE} noise), {SEQ_LEN} steps, batch {BATCH}",
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
                f"{d['cpu_time_ratio']:.2f}; target {TARGET_RATIO:.2f}); plain port "
                f"{d['plain_port_windows_per_s']:.0f} windows/s "
                f"on {d['device']}"
            )
            print(json.dumps(d, default=str))


if __name__ == "__main__":
    main()
