"""Device resolution, optional bf16 autocast and seeded determinism for the GAN.

Every CUDA call is guarded, so the same code runs on CPU-only machines. Seeding happens inside a forked RNG
scope: training is reproducible from the config's seed without leaving global random state behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from gan_trader.errors import ConfigError


def resolve_device(spec: str) -> torch.device:
    """Map gan.device (`auto|cpu|cuda|cuda:N`) to a torch device; a missing GPU is a config error."""
    if spec == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if spec == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if available else torch.device("cpu")
    if not available:
        raise ConfigError(f"gan.device: {spec!r} requested but PyTorch sees no CUDA device (use auto or cpu)")
    index = int(spec.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"gan.device: {spec!r} requested but only {count} CUDA device(s) are visible")
    return torch.device("cuda", index)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA when asked for; a no-op elsewhere (CPU training stays float32 and exact)."""
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's global generators seeded, restoring the caller's RNG state afterwards.

    Dropout draws from the global generator, so determinism needs it seeded; forking keeps that local.
    """
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The global generator states a checkpoint must carry so a resumed run draws the same numbers."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def describe(device: torch.device) -> str:
    """Human-readable device name for logs and benchmark tables."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
