"""The generator G(window, z): LSTM over seq_len days of features and noise -> dense -> the next-day target.

The original generator (LSTM 112 -> 500 -> 1, Xavier init) had no noise input, so it could not sample and its
Metropolis-Hastings step had nothing to choose from; here a noise vector z is concatenated to every time step.

The recurrence runs in PyTorch's own LSTM kernel (oneDNN on CPU, cuDNN on GPU). oneDNN's kernel also
multiplies the zero initial state and computes the gradient of its input, work a hand-written layer could
skip; three such layers were tried (plain PyTorch, a fused C cell, oneDNN post-op activations) and none beat
nn.LSTM in a full training step, because oneDNN applies the cell inside its recurrent product while the gates
are still in cache (docs/performance.md has the measurements). So nn.LSTM stays. Inputs are fed time-major.
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
