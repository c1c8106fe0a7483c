"""The generator G(window, z): an LSTM encodes the window, a head maps (encoding, noise) to the next value.

The original generator (LSTM 112 -> 500 -> 1, Xavier init) had no noise input, so it could not sample and its
Metropolis-Hastings step had nothing to choose from. Noise fed beside the features at every time step (the
first design here) is easy for the LSTM to wash out: the samples of a trained model collapsed to a point. So
the noise enters after the recurrence, in a small head that reads the window's encoding and z together; the
encoding is computed once per window, and K draws cost K passes of the head alone.

The recurrence runs in PyTorch's own LSTM kernel (oneDNN on CPU, cuDNN on GPU); inputs are fed time-major.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Generator(nn.Module):
    """G(window, z) -> scaled next-day target. window (B, T, F + 1), the target's history its last channel;
    z (B, noise_dim) -> (B,) or z (B, K, noise_dim) -> (B, K): K draws per window from one pass of the LSTM.

    :param conditioning: read the F features beside the history (False: the history alone).
    """

    def __init__(
        self,
        n_features: int,
        hidden: int = 64,
        layers: int = 1,
        noise_dim: int = 8,
        dropout: float = 0.0,
        head: int = 64,
        conditioning: bool = True,
    ) -> None:
        super().__init__()
        self.conditioning = conditioning and n_features > 0
        self.noise_dim = noise_dim
        self.dropout = dropout
        inputs = 1 + (n_features if self.conditioning else 0)
        # nn.LSTM applies dropout between stacked layers only; the head's input gets it below.
        self.lstm = nn.LSTM(inputs, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0)
        # One linear layer over (encoding, z), split in two so that the encoding's share is computed once
        # per window, not once per draw.
        self.mix_window = nn.Linear(hidden, head)
        self.mix_noise = nn.Linear(noise_dim, head, bias=False)
        self.out = nn.Linear(head, 1)
        for name, parameter in self.named_parameters():
            if name.endswith("bias") or "bias_" in name:
                nn.init.zeros_(parameter)
            else:
                nn.init.xavier_uniform_(parameter)

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """The window's encoding (B, hidden): the LSTM's last output."""
        inputs = window if self.conditioning else window[..., -1:]
        out, _ = self.lstm(inputs.transpose(0, 1))
        return F.dropout(out[-1], self.dropout, self.training)

    def decode(self, encoding: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Draws for encodings (B, H) and noise (B, K, noise_dim) -> (B, K)."""
        mixed = F.leaky_relu(self.mix_window(encoding).unsqueeze(1) + self.mix_noise(z), 0.2)
        return self.out(mixed).squeeze(2)

    def forward(self, window: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        draws = self.decode(self.encode(window), z if z.dim() == 3 else z.unsqueeze(1))
        return draws if z.dim() == 3 else draws.squeeze(1)
