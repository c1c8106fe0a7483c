"""The generator G(window, z): LSTM over seq_len days of features and noise -> dense -> the next-day target.

The original generator (LSTM 112 -> 500 -> 1, Xavier init) had no noise input, so it could not sample and
its Metropolis-Hastings step had nothing to choose from; here a noise vector z is concatenated to every time
step.

Training on CPU runs the recurrence in `lstm.last_hidden` (only the products its gradients need, on the
fastest GEMM here); inference and other devices run nn.LSTM (oneDNN on CPU, cuDNN on GPU). Both read the
same nn.LSTM parameters. Inputs are fed time-major.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gan_trader.models import lstm


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
        if lstm.supports(self.lstm, inputs):
            last = lstm.last_hidden(self.lstm, inputs)
        else:
            last = self.lstm(inputs)[0][-1]
        last = F.dropout(last, self.dropout, self.training)
        return self.head(last).squeeze(1)
