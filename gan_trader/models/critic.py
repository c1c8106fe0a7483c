"""The critic D: a 1-D CNN over the target's history plus the next value (real or generated).

Input: the scaled target of the window's seq_len days followed by the candidate next value, so seq_len + 1
steps (18 by default), optionally with the window's features as extra channels (zero at the next-value step,
since they are not known for it). Conv1D layers (32/64/128 filters, kernel 5, stride 2, LeakyReLU) then dense
220, 220, 1. The original's unpadded layers cannot run on 18 steps; padding here follows
`CriticConfig.layer_geometry`, which also names the config keys when a layout cannot fit.

Normalisation: none or a per-sample layer norm under a gradient penalty; the original's BatchNorm only
with the BCE or weight-clipping losses (config validation enforces it).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_trader.config import CriticConfig


class ChannelsLastConv1d(nn.Conv1d):
    """Conv1d on channels-last input (N, L, C) -> (N, L_out, C_out), computed as one GEMM (im2col).

    The critic's convolutions are tiny (18 steps); as a single matrix product over the unfolded windows they
    run at GEMM speed instead of paying a convolution primitive's per-call overhead, forward and backward
    (and in the gradient penalty's double backward). Parameters and init are nn.Conv1d's.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: tuple[int, int]
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride)
        self.pad = padding

    def forward(self, x: torch.Tensor, channels: slice = slice(None), bias: bool = True) -> torch.Tensor:
        """Convolve `x`, whose channels are `channels` of this layer's inputs (all by default)."""
        if self.pad[0] or self.pad[1]:
            x = nn.functional.pad(x, (0, 0, self.pad[0], self.pad[1]))
        n = x.shape[0]
        columns = x.unfold(1, self.kernel_size[0], self.stride[0])  # (N, L_out, C, k)
        steps = columns.shape[1]
        weight = self.weight[:, channels].reshape(self.out_channels, -1).t()
        columns = columns.reshape(n * steps, -1)
        out = torch.addmm(self.bias, columns, weight) if bias and self.bias is not None else columns @ weight
        return out.view(n, steps, self.out_channels)


class ChannelsLastLayerNorm(nn.Module):
    """Per-sample normalisation over (steps, channels), per-channel affine: GroupNorm(1, C) semantics."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, nn.functional.layer_norm(x, x.shape[1:]), self.weight)


class ChannelsLastBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over channels-last (N, L, C): statistics over batch and steps, as on (N, C, L)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view_as(x)


def _norm(kind: str, channels: int, momentum: float) -> nn.Module:
    if kind == "layer":
        # Normalises each sample on its own: no statistics shared across the batch (safe under a penalty).
        return ChannelsLastLayerNorm(channels)
    if kind == "batch":
        # Keras/MXNet momentum is the weight of the running average; PyTorch's is the weight of the batch.
        return ChannelsLastBatchNorm(channels, momentum=1.0 - momentum)
    return nn.Identity()


class Critic(nn.Module):
    """D(history + next value [, features]) -> one score per sample (a logit for the BCE loss)."""

    def __init__(self, config: CriticConfig, seq_len: int, n_features: int = 0) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.conditioning = config.conditioning and n_features > 0
        self.n_features = n_features if self.conditioning else 0
        geometry = config.layer_geometry(seq_len + 1)
        layers: list[nn.Module] = []
        channels = 1 + self.n_features
        for filters, (left, right, _) in zip(config.filters, geometry, strict=True):
            layers.append(
                ChannelsLastConv1d(channels, filters, config.kernel_size, config.strides, (left, right))
            )
            layers.append(_norm(config.norm, filters, config.batchnorm_momentum))
            layers.append(nn.LeakyReLU(config.lrelu_alpha))
            channels = filters
        self.features = nn.Sequential(*layers)
        dense: list[nn.Module] = [nn.Flatten()]
        width = channels * geometry[-1][2]
        for units in config.dense:
            dense += [nn.Linear(width, units), nn.LeakyReLU(config.lrelu_alpha)]
            if config.dropout > 0:
                dense.append(nn.Dropout(config.dropout))
            width = units
        dense.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*dense)
        self.output_steps = geometry[-1][2]

    def conditioning_channels(self, window: torch.Tensor) -> torch.Tensor | None:
        """The features' part of the first convolution (B, L_1, C_1), or None without conditioning.

        The features are channels 1..F of the critic's input (zero at the next-value step, which they do not
        know). A convolution is linear in its input channels, so their contribution is computed once per
        batch and added to the target channel's: the real, generated and interpolated series of a batch
        share it, and the gradient penalty's input gradient never flows through it.
        """
        if not self.conditioning:
            return None
        first = self.features[0]
        assert isinstance(first, ChannelsLastConv1d)
        features = nn.functional.pad(window, (0, 0, 0, 1))
        return first(features, channels=slice(1, None), bias=False)

    def forward(self, series: torch.Tensor, conditioning: torch.Tensor | None = None) -> torch.Tensor:
        """series (R*B, T + 1): history, then the next value; conditioning (B, ...) or None.

        The conditioning comes from `conditioning_channels`; with R > 1 the series are R groups of B in its
        window order (real, generated, interpolated).
        """
        first = self.features[0]
        assert isinstance(first, ChannelsLastConv1d)
        x = first(series.unsqueeze(2), channels=slice(0, 1))
        if conditioning is not None:
            groups = x.shape[0] // conditioning.shape[0]
            x = (x.view(groups, *conditioning.shape) + conditioning).view(x.shape)
        for layer in list(self.features)[1:]:
            x = layer(x)
        return self.head(x).squeeze(1)


def series_with_next(history: torch.Tensor, next_value: torch.Tensor) -> torch.Tensor:
    """(B, T) history and (B,) next value -> the (B, T + 1) series the critic reads."""
    return torch.cat([history, next_value.unsqueeze(1)], dim=1)
