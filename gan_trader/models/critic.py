"""The critic D(window, next value): a 1-D CNN encodes the window, a dense head scores the value against it.

The window is the target's scaled history (its last channel) and, with `conditioning`, the features as
further channels, over seq_len days. Conv1D layers (32/64/128 filters, kernel 5, stride 2, LeakyReLU), padded
as `CriticConfig.layer_geometry` says (it also names the config keys when a layout cannot fit), then dense
220, 220, 1. The candidate next value enters the first dense layer beside the window's encoding (a
projection-style critic):

    D(w, y) = head(encoding(w) + u * y)

The first design appended y to the history as one more step of the convolved series, and took the gradient
penalty over the whole series: at the interpolates the shared history carried 0.93 of the gradient norm and
the next value 0.03, so the critic barely responded to the one value real and generated inputs differ in (AUC
0.50 on validation). Here the encoding is computed once per window and shared by the real, generated and
interpolated values and by the K candidates of Metropolis-Hastings, and dD/dy, the gradient the penalty
constrains, is the one that matters.

Normalisation: none or a per-sample layer norm (GroupNorm with one group) under a gradient penalty; the
original's BatchNorm only with the BCE or weight-clipping losses (config validation enforces it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # the module runs with torch alone; any object with CriticConfig's fields will do
    from gan_trader.config import CriticConfig


def _norm(kind: str, channels: int, momentum: float) -> nn.Module:
    if kind == "layer":
        # Normalises each sample over (channels, steps) on its own, per-channel affine: no batch statistics.
        return nn.GroupNorm(1, channels)
    if kind == "batch":
        # Keras/MXNet momentum is the weight of the running average; PyTorch's is the weight of the batch.
        return nn.BatchNorm1d(channels, momentum=1.0 - momentum)
    return nn.Identity()


def _activation(alpha: float, dropout: float) -> nn.Module:
    return nn.Sequential(nn.LeakyReLU(alpha), nn.Dropout(dropout))


class Critic(nn.Module):
    """D(window, next value) -> one score per value (a logit for the BCE loss).

    :param n_features: the window's channels besides the target's history (its last channel); read only
        with `config.conditioning`.
    """

    def __init__(self, config: CriticConfig, seq_len: int, n_features: int = 0) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.conditioning = config.conditioning and n_features > 0
        geometry = config.layer_geometry(seq_len)
        layers: list[nn.Module] = []
        channels = 1 + (n_features if self.conditioning else 0)
        for filters, (left, right, _) in zip(config.filters, geometry, strict=True):
            layers += [
                nn.ConstantPad1d((left, right), 0.0),
                nn.Conv1d(channels, filters, config.kernel_size, config.strides),
                _norm(config.norm, filters, config.batchnorm_momentum),
                nn.LeakyReLU(config.lrelu_alpha),
            ]
            channels = filters
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.output_steps = geometry[-1][2]
        first, *rest = config.dense
        self.joint_window = nn.Linear(channels * self.output_steps, first)
        self.joint_value = nn.Linear(1, first, bias=False)
        # Each activation and its dropout are one step (dropout 0 passes its input through), so the dense
        # layers keep their places, and a checkpoint its keys, whatever the dropout: PBT and PB2 continue a
        # donor's checkpoint at a dropout moved to or from 0.
        head: list[nn.Module] = [_activation(config.lrelu_alpha, config.dropout)]
        width = first
        for units in rest:
            head += [nn.Linear(width, units), _activation(config.lrelu_alpha, config.dropout)]
            width = units
        head.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*head)

    def encode(self, window: torch.Tensor) -> torch.Tensor:
        """The window's share of the first dense layer (B, dense[0]); window (B, T, n_features + 1)."""
        channels = window if self.conditioning else window[..., -1:]
        return self.joint_window(self.features(channels.transpose(1, 2)))

    def score(self, encoding: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Scores of values (B,) or (B, K) against the encodings (B, dense[0]) of their windows."""
        value_part = values.unsqueeze(-1) * self.joint_value.weight.squeeze(1)
        shared = encoding if values.dim() == 1 else encoding.unsqueeze(1)
        return self.head(shared + value_part).squeeze(-1)

    def forward(self, window: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return self.score(self.encode(window), values)
