"""Shared fitting loop for the torch baselines: seeded, mini-batch Adam, early stopping on validation loss.

Seeding happens inside `torch.random.fork_rng`, so fitting a baseline never changes the caller's global
random state, and the same seed gives the same weights on CPU.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def seeded_fitting(seed: int) -> Iterator[torch.Generator]:
    """Seed torch for the block only (weight init, dropout masks) and yield a generator for shuffling.

    The block also runs on one intra-op thread: these networks multiply tiny matrices step by step, where
    intra-op threads only add synchronisation (docs/performance.md). The caller's thread count is restored
    afterwards.
    """
    with one_torch_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread (see `seeded_fitting`), restoring the caller's setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_regressor(
    module: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    generator: torch.Generator,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    patience: int = 3,
) -> list[dict[str, float]]:
    """Minimise the MSE on training windows; keep the weights of the epoch with the lowest validation MSE."""
    xt = torch.as_tensor(x_train, dtype=torch.float32)
    yt = torch.as_tensor(y_train, dtype=torch.float32).reshape(-1, 1)
    xv = torch.as_tensor(x_val, dtype=torch.float32)
    yv = torch.as_tensor(y_val, dtype=torch.float32).reshape(-1, 1)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    best_loss, best_state, stale = float("inf"), copy.deepcopy(module.state_dict()), 0
    history = []
    for epoch in range(1, epochs + 1):
        module.train()
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(module(xt[batch]), yt[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        module.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(module(xv), yv)) if len(xv) else total / len(xt)
        history.append({"epoch": epoch, "train/loss": total / len(xt), "val/loss": val_loss})
        if val_loss < best_loss:
            best_loss, best_state, stale = val_loss, copy.deepcopy(module.state_dict()), 0
        else:
            stale += 1
            if stale >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return history


def predict_batches(module: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Evaluate the module in inference mode (dropout off) on windows x."""
    module.eval()
    out = []
    with torch.no_grad(), one_torch_thread():
        for start in range(0, len(x), batch_size):
            chunk = torch.as_tensor(x[start : start + batch_size], dtype=torch.float32)
            out.append(module(chunk).reshape(-1).numpy())
    return np.concatenate(out) if out else np.zeros(0)
