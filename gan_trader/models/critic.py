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

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gan_trader.models.gemm import Linear, linear

if TYPE_CHECKING:  # the module runs with torch alone; any object with CriticConfig's fields will do
    from gan_trader.config import CriticConfig


class _Band(torch.autograd.Function):
    """Gather a convolution kernel into its banded matrix; the backward gathers too (no scatter-add)."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, index: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(inverse)
        ctx.shape = weight.shape
        return torch.cat([weight.reshape(-1), weight.new_zeros(1)]).index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (inverse,) = ctx.saved_tensors
        # inverse[w] lists the band entries holding kernel element w (the extra zero slot pads the list).
        flat = torch.cat([grad.reshape(-1), grad.new_zeros(1)])
        grad_weight = flat.index_select(0, inverse.view(-1)).view(inverse.shape).sum(1)
        return grad_weight.view(ctx.shape), None, None


class ChannelsLastConv1d(nn.Conv1d):
    """Conv1d on channels-last input (N, L, C) -> (N, L_out, C_out), computed as one matrix product.

    The critic's convolutions are tiny (18 steps), so a convolution primitive's per-call cost dominates them.
    Where the input is short next to the kernel (L <= 2k, or a tiny layer) the convolution is one product with
    its banded matrix (L_out*C_out, L*C), gathered from the kernel: padding costs nothing, and the gradient
    penalty's input gradient and double backward are plain products too. The band then holds every kernel
    tap plus at most as many zeros, so it does at most twice the needed arithmetic. Longer inputs are
    unfolded (im2col) into one product instead. Parameters and init are nn.Conv1d's.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: tuple[int, int]
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride)
        self.pad = padding
        self._band_indices: dict[tuple[int, int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def output_length(self, steps: int) -> int:
        return (steps + self.pad[0] + self.pad[1] - self.kernel_size[0]) // self.stride[0] + 1

    def banded(self, steps: int, channels: int) -> bool:
        """Whether an input of `steps` x `channels` runs through the banded matrix (see the class doc)."""
        size = steps * channels * self.output_length(steps) * self.out_channels
        return steps <= 2 * self.kernel_size[0] or size <= 1 << 16

    def _indices(self, steps: int, channels: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(index, inverse) of the band on `steps` steps of `channels` channels; made once per shape."""
        key = (steps, channels, device)
        if key not in self._band_indices:
            out_channels, kernel = self.out_channels, self.kernel_size[0]
            out_steps = self.output_length(steps)
            n_weights = out_channels * channels * kernel
            # Output step j, tap t reads input step j*stride + t - left; taps on padding read the zero slot.
            index = torch.full((out_steps, out_channels, steps, channels), n_weights)
            kernel_entry = (torch.arange(out_channels)[:, None] * channels + torch.arange(channels)) * kernel
            for j in range(out_steps):
                for tap in range(kernel):
                    step = j * self.stride[0] + tap - self.pad[0]
                    if 0 <= step < steps:
                        index[j, :, step, :] = kernel_entry + tap
            index = index.reshape(-1)
            position = torch.arange(index.numel())
            used = index < n_weights
            inverse = torch.full((n_weights, out_steps), index.numel())
            inverse[index[used], position[used] // (out_channels * steps * channels)] = position[used]
            self._band_indices[key] = (index.to(device), inverse.to(device))
        return self._band_indices[key]

    def band(self, steps: int, channels: slice = slice(None)) -> torch.Tensor:
        """The (L_out*C_out, L*C) matrix of this convolution, restricted to `channels`, on `steps` steps."""
        weight = self.weight[:, channels]
        index, inverse = self._indices(steps, weight.shape[1], weight.device)
        out: torch.Tensor = _Band.apply(weight, index, inverse)
        return out.view(-1, steps * weight.shape[1])

    def forward(
        self,
        x: torch.Tensor,
        channels: slice = slice(None),
        bias: bool = True,
        band: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Convolve `x`, whose channels are `channels` of this layer's inputs (all by default).

        :param band: this layer's `band` for x's shape, when the caller made it already (shared by calls).
        """
        n, steps, width = x.shape
        out_steps = self.output_length(steps)
        offset = self.bias if bias else None
        if band is not None or self.banded(steps, width):
            if band is None:
                band = self.band(steps, channels)
            if offset is not None:
                offset = offset.repeat(out_steps)
            out = linear(x.reshape(n, steps * width), band, offset)
        else:
            if self.pad[0] or self.pad[1]:
                x = nn.functional.pad(x, (0, 0, self.pad[0], self.pad[1]))
            # (N, L_out, k, C): a row is k consecutive steps, so the copy moves whole runs of k*C values
            # (the (C, k) order would gather them one by one, which is much slower).
            columns = x.unfold(1, self.kernel_size[0], self.stride[0]).transpose(2, 3)
            weight = self.weight[:, channels].transpose(1, 2).reshape(self.out_channels, -1)
            out = linear(columns.reshape(n * out_steps, -1), weight, offset)
        return out.view(n, out_steps, self.out_channels)


class ChannelsLastLayerNorm(nn.Module):
    """Per-sample normalisation over (steps, channels), per-channel affine: GroupNorm(1, C) semantics."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[1:]
        return nn.functional.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape))


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
            dense += [Linear(width, units), nn.LeakyReLU(config.lrelu_alpha)]
            if config.dropout > 0:
                dense.append(nn.Dropout(config.dropout))
            width = units
        dense.append(Linear(width, 1))
        self.head = nn.Sequential(*dense)
        self.output_steps = geometry[-1][2]

    def convolutions(self) -> list[ChannelsLastConv1d]:
        return [layer for layer in self.features if isinstance(layer, ChannelsLastConv1d)]

    def prepare(self, window: torch.Tensor | None = None) -> CriticInputs:
        """What the critic's calls on one batch of windows (B, T, F) share, at the current weights.

        The features are channels 1..F of the critic's input (zero at the next-value step, which they do not
        know). A convolution is linear in its input channels, so their contribution to the first layer is
        computed once per batch and added to the target channel's: the real, generated and interpolated
        series of a batch share it, and the gradient penalty's input gradient never flows through it. The
        banded matrices of the series' convolutions are gathered once too.
        """
        conditioning = None
        convolutions = self.convolutions()
        if self.conditioning:
            if window is None:
                raise ValueError("this critic reads the window's features: prepare(window) needs them")
            features = nn.functional.pad(window, (0, 0, 0, 1))
            conditioning = convolutions[0](features, channels=slice(1, None), bias=False)
        bands: list[torch.Tensor | None] = []
        steps = self.seq_len + 1
        for layer, convolution in enumerate(convolutions):
            # The first convolution's series part reads the target channel alone.
            channels, width = (slice(0, 1), 1) if layer == 0 else (slice(None), convolution.in_channels)
            bands.append(convolution.band(steps, channels) if convolution.banded(steps, width) else None)
            steps = convolution.output_length(steps)
        return CriticInputs(conditioning, tuple(bands))

    def forward(self, series: torch.Tensor, inputs: CriticInputs | None = None) -> torch.Tensor:
        """series (R*B, T + 1): history, then the next value; `inputs` from `prepare` (made here if None).

        With R > 1 the series are R groups of B in the order of `prepare`'s windows (e.g. real, generated).
        """
        if inputs is None:
            inputs = self.prepare()
        convolutions = iter(zip(self.convolutions(), inputs.bands, strict=True))
        first, band = next(convolutions)
        x = first(series.unsqueeze(2), channels=slice(0, 1), band=band)
        conditioning = inputs.conditioning
        if conditioning is not None:
            groups = x.shape[0] // conditioning.shape[0]
            x = (x.view(groups, *conditioning.shape) + conditioning).view(x.shape)
        for layer in list(self.features)[1:]:
            x = layer(x, band=next(convolutions)[1]) if isinstance(layer, ChannelsLastConv1d) else layer(x)
        return self.head(x).squeeze(1)


@dataclass(frozen=True)
class CriticInputs:
    """Shared by the critic's calls on one batch: the features' share of the first convolution (B, L_1, C_1)
    or None, and each convolution's banded matrix (None where it unfolds instead)."""

    conditioning: torch.Tensor | None
    bands: tuple[torch.Tensor | None, ...]

    def repeated(self, times: int) -> CriticInputs:
        """The same inputs for series that repeat each window `times` times in a row (K candidates each)."""
        if self.conditioning is None:
            return self
        return replace(self, conditioning=self.conditioning.repeat_interleave(times, dim=0))


def series_with_next(history: torch.Tensor, next_value: torch.Tensor) -> torch.Tensor:
    """(B, T) history and (B,) next value -> the (B, T + 1) series the critic reads."""
    return torch.cat([history, next_value.unsqueeze(1)], dim=1)
