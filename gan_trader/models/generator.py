"""The generator G(window, z): LSTM over seq_len days of features and noise -> dense -> the next-day target.

The original generator (LSTM 112 -> 500 -> 1, Xavier init) had no noise input, so it could not sample and its
Metropolis-Hastings step had nothing to choose from; here a noise vector z is concatenated to every time step.

The recurrence runs in PyTorch's own LSTM kernel (oneDNN on CPU, cuDNN on GPU). oneDNN's kernel also
multiplies the zero initial state and computes the gradient of its input (about 12 % more arithmetic at the
original's size), but a hand-written LSTM layer that skips both, with its products on oneDNN's matmul, only
tied with it at 1 thread (45.4 vs 45.6 ms forward and backward, batch 64, LSTM 500, 17 steps) and lost at 2
(26.3 vs 24.6 ms): its element-wise work, a dozen separate operations per step, costs what it saves. With
that work fused into one C loop per step and direction (ctypes, -O3 -march=native, the recurrent weight
packed for oneDNN once per pass), the backward beat oneDNN's (about 27 vs 32 ms) but the forward lost
(15.7 vs 14.2 ms: oneDNN applies the cell inside its recurrent product, while the gates are in cache), and
full training steps tied: alternating in one process, the medians' ratio was 0.98-1.10 at 1 thread and
0.97-1.01 at 2. Letting oneDNN apply the gates' activations inside the products (input and state in one
product per step) tied as well: 42.5 vs 43.8 ms at 1 thread, 24.6 vs 24.0 at 2. So nn.LSTM stays.
Inputs are fed time-major.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Generator(nn.Module):
    """G(window, z) -> scaled next-day target. window (B, T, F), z (B, noise_dim) -> (B,)."""

    def __init__(
        self, n_features: int, hidden: int = 500, layers: int = 1, noise_dim: int = 8, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.noise_dim = noise_dim
        self.dropout = dropout
        # nn.LSTM applies dropout between stacked layers only; the head's input gets it below.
        self.lstm = nn.LSTM(
            n_features + noise_dim, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, 1)
        for name, parameter in [*self.lstm.named_parameters(), *self.head.named_parameters()]:
            if name.startswith("weight"):
                nn.init.xavier_uniform_(parameter)
            else:
                nn.init.zeros_(parameter)

    def forward(self, window: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        steps = window.shape[1]
        noise = z.unsqueeze(0).expand(steps, -1, -1)
        inputs = torch.cat([window.transpose(0, 1), noise], dim=2)
        out, _ = self.lstm(inputs)
        last = F.dropout(out[-1], self.dropout, self.training)
        return self.head(last).squeeze(1)
