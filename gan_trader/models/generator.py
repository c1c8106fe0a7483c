"""The generator G(window, z): an LSTM encodes the window, a head maps (encoding, noise) to the next value.

The original generator (LSTM 112 -> 500 -> 1, Xavier init) had no noise input, so it could not sample and its
Metropolis-Hastings step had nothing to choose from. Noise fed beside the features at every time step (the
first design here) is easy for the LSTM to wash out: the samples of a trained model collapsed to a point. So
the noise enters after the recurrence, in a small head that reads the window's encoding and z together; the
encoding is computed once per window, and K draws cost K passes of the head alone.

Two heads (`form`):
- `free`: draw = out(leaky_relu(W e + V z)). A scale that changes threefold from one day to the next must be
  carried through one leaky-ReLU layer, which it learns poorly (issue "Information the GAN can use").
- `location_scale`: draw = m(e) + s(x, e) * h(z, e), where log s is linear in the scale features at the
  origin (the volatility group's values at t, `scale_index` into the window's feature channels) and in the
  encoding, and h is the free head's output standardised over the window's draws (zero mean and unit scale
  by construction), which learns the shape. `GanForecaster` initialises m and log s from `har_t`'s
  maximum-likelihood fit on the training span (`init_location_scale`), so that the generator starts where
  the same-information parametric model ends.

The recurrence runs in PyTorch's own LSTM kernel (oneDNN on CPU, cuDNN on GPU); inputs are fed time-major.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

GeneratorForm = Literal["free", "location_scale"]
SHAPE_EPS = 1e-6  # keeps the standardisation finite when a head's draws coincide


class Generator(nn.Module):
    """G(window, z) -> scaled next-day target. window (B, T, F + 1), the target's history its last channel;
    z (B, noise_dim) -> (B,) or z (B, K, noise_dim) -> (B, K): K draws per window from one pass of the LSTM.

    :param conditioning: read the F features beside the history (False: the history alone).
    :param form: `free` or `location_scale` (see the module docstring).
    :param scale_index: feature channels whose values at the origin the log scale reads (location_scale).
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
        form: GeneratorForm = "free",
        scale_index: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.conditioning = conditioning and n_features > 0
        self.noise_dim = noise_dim
        self.dropout = dropout
        self.form = form
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
        if form == "location_scale":
            self.register_buffer("scale_index", torch.as_tensor(scale_index or [], dtype=torch.long))
            self.location = nn.Linear(hidden, 1)
            self.log_scale_inputs = nn.Linear(len(scale_index or []), 1)
            self.log_scale_encoding = nn.Linear(hidden, 1, bias=False)
            for layer in (self.location, self.log_scale_inputs, self.log_scale_encoding):
                nn.init.zeros_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """The window's encoding (B, hidden): the LSTM's last output."""
        inputs = window if self.conditioning else window[..., -1:]
        out, _ = self.lstm(inputs.transpose(0, 1))
        return F.dropout(out[-1], self.dropout, self.training)

    def shape(self, encoding: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The free head's draws for encodings (B, H) and noise (B, K, noise_dim) -> (B, K)."""
        mixed = F.leaky_relu(self.mix_window(encoding).unsqueeze(1) + self.mix_noise(z), 0.2)
        return self.out(mixed).squeeze(2)

    def location_scale(
        self, window: torch.Tensor, encoding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(location, log scale) per window (B,) of the location_scale form."""
        index: torch.Tensor = self.scale_index  # type: ignore[assignment]  # a registered buffer
        inputs = window[:, -1, index]
        log_scale = self.log_scale_inputs(inputs) + self.log_scale_encoding(encoding)
        return self.location(encoding).squeeze(1), log_scale.squeeze(1)

    def decode(self, window: torch.Tensor, encoding: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Draws (B, K) for windows, their encodings (B, H) and noise (B, K, noise_dim)."""
        raw = self.shape(encoding, z)
        if self.form == "free":
            return raw
        centred = raw - raw.mean(dim=1, keepdim=True)
        standard = centred / torch.sqrt(centred.pow(2).mean(dim=1, keepdim=True) + SHAPE_EPS)
        location, log_scale = self.location_scale(window, encoding)
        return location.unsqueeze(1) + torch.exp(log_scale).unsqueeze(1) * standard

    def forward(self, window: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        draws = self.decode(window, self.encode(window), z if z.dim() == 3 else z.unsqueeze(1))
        return draws if z.dim() == 3 else draws.squeeze(1)

    @torch.no_grad()
    def init_location_scale(self, location: float, log_sd_intercept: float, log_sd_slope: np.ndarray) -> None:
        """Start m at `location` and log s at `log_sd_intercept + log_sd_slope' x` (x: the scale inputs at
        the origin), with the encoding's share of both at zero: the draws' standard deviation is then the
        fitted model's, whatever the shape head does."""
        if self.form != "location_scale":
            raise ValueError("init_location_scale needs the location_scale form")
        self.location.weight.zero_()
        self.location.bias.fill_(float(location))
        self.log_scale_encoding.weight.zero_()
        self.log_scale_inputs.weight.copy_(torch.as_tensor(np.asarray(log_sd_slope, float)).view(1, -1))
        self.log_scale_inputs.bias.fill_(float(log_sd_intercept))
