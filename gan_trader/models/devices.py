"""Device resolution, optional bf16 autocast, seeded determinism and the process's allocator setting.

Every CUDA call is guarded, so the same code runs on CPU-only machines. Seeding happens inside a forked RNG
scope: training is reproducible from the config's seed without leaving global random state behind.
`configure_process_memory` changes the whole process, so only process start-up code calls it (the CLI, an
executor's worker, a benchmark), never a model's constructor.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import sys
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
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's global generators seeded, restoring the caller's RNG state afterwards.

    Dropout draws from the global generator, so determinism needs it seeded; forking keeps that local.
    """
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with torch using `count` intra-op threads (None: as it is), restoring the count after:
    a process that works beside single-threaded workers on the same cores takes one thread too."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


# glibc mallopt parameters (malloc.h): M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Above the largest buffer a CPU training step allocates: oneDNN's LSTM workspaces exceed glibc's 32 MB cap
# on the dynamic mmap threshold, so that cap alone would leave them mapped afresh every step.
_MMAP_THRESHOLD = 256 * 1024 * 1024
_TRIM_THRESHOLD = 256 * 1024 * 1024


@functools.cache
def configure_process_memory() -> bool:
    """Make glibc keep freed multi-megabyte buffers in the heap for reuse; call once where a process starts.

    A CPU training step allocates tens of MB of activations, gradients and oneDNN LSTM workspaces. With
    glibc's defaults each is mmap-ed afresh every step and every page of it faults on first touch, a sizeable
    share of the step (docs/performance.md has the figures). Raising the mmap and trim thresholds keeps them
    in the heap: the allocator tuning PyTorch's CPU performance guide recommends (there via jemalloc or
    tcmalloc). The cost: up to _TRIM_THRESHOLD of freed heap is kept rather than returned to the system.

    The setting is process-wide, like torch's thread count, so process start-up code calls this (the CLI,
    executor workers, `gan-trader bench`), never a model. Results do not change, only speed. Idempotent.
    Returns whether it applied (glibc on Linux only).
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


def describe(device: torch.device) -> str:
    """Human-readable device name for logs and benchmark tables."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
