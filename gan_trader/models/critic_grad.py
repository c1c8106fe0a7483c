"""The WGAN-GP critic update and the generator's pass through the critic, with gradients derived by hand.

The critic is small (a few hundred thousand weights over 18 steps), so autograd's generic double backward of
the gradient penalty spends most of the update on many small operations rather than on arithmetic (56
matrix products of 64-128 rows at the original's size). Here the same gradients come from the chain rule
written out layer by layer, in 26 products over stacked rows (docs/performance.md has the timings):

1. forward over the real, generated and interpolated series together (3B rows);
2. one backward pass over all 3B rows: for the real and generated rows it is the first-order gradient of
   E[D(fake)] - E[D(real)], for the interpolated rows it yields the input gradient g = dD/dx;
3. the penalty's adjoint of g is carried back up through that backward pass (the double backward): leaky ReLU
   is piecewise linear, so only the layer norms add second-order terms, which become sources of
4. one more first-order backward pass over the interpolated rows;
5. each layer's weight gradient is one product over the stacked rows of 2 to 4.

Every linear map is a banded convolution, an unfolded convolution or a dense layer (`_Matrix`, `_Unfolded`);
the gradients are computed for these effective weights and handed to autograd once at the end, which maps them
onto the parameters (kernel gather, bias repeat, per-channel norm affine, the features' share of the first
convolution). `tests/models/test_critic_grad.py` holds the result to autograd's double backward.

Supported: norm `layer` or `none`, LeakyReLU, no critic dropout while training (`supports`); otherwise the
trainer uses autograd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gan_trader.models.critic import (
    ChannelsLastConv1d,
    ChannelsLastLayerNorm,
    Critic,
    CriticInputs,
)
from gan_trader.models.gemm import matmul_nt

_leaky_relu_backward = torch.ops.aten.leaky_relu_backward


class _Matrix:
    """A linear map given by a matrix W (m, n): a banded convolution or a dense layer."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return matmul_nt(x, self.weight)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return matmul_nt(y, self.weight.t())

    def weight_grad(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """d/dW of sum(y * apply(x)) over rows: y^T x."""
        return matmul_nt(y.t(), x.t())


class _Unfolded:
    """A convolution over (R, L*C) channels-last rows computed by unfolding (im2col); weight (C_out, k*C)."""

    def __init__(self, weight: torch.Tensor, convolution: ChannelsLastConv1d, steps: int) -> None:
        self.weight = weight
        self.steps, self.channels = steps, weight.shape[1] // convolution.kernel_size[0]
        self.kernel, self.stride = convolution.kernel_size[0], convolution.stride[0]
        self.pad = convolution.pad
        self.out_steps = convolution.output_length(steps)

    def _columns(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[0]
        padded = nn.functional.pad(x.view(rows, self.steps, self.channels), (0, 0, *self.pad))
        # A row: the k input steps of one output step, channels within steps (as in `ChannelsLastConv1d`).
        columns = padded.unfold(1, self.kernel, self.stride).transpose(2, 3)
        return columns.reshape(rows * self.out_steps, -1)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return matmul_nt(self._columns(x), self.weight).view(x.shape[0], -1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        rows = y.shape[0]
        columns = matmul_nt(y.reshape(rows * self.out_steps, -1), self.weight.t())
        padded_steps = self.steps + self.pad[0] + self.pad[1]
        grad = torch.ops.aten.unfold_backward(
            columns.view(rows, self.out_steps, self.kernel, self.channels).transpose(2, 3),
            [rows, padded_steps, self.channels],
            1,
            self.kernel,
            self.stride,
        )
        return grad[:, self.pad[0] : self.pad[0] + self.steps].reshape(rows, -1)

    def weight_grad(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        rows = y.shape[0]
        return matmul_nt(y.reshape(rows * self.out_steps, -1).t(), self._columns(x).t())


@dataclass
class _Layer:
    """One affine map, optionally followed by a layer norm and a leaky ReLU, on flattened rows."""

    linear: _Matrix | _Unfolded
    bias: torch.Tensor | None  # (m,), expanded over steps for convolutions
    norm: tuple[torch.Tensor, torch.Tensor, float] | None  # (gamma, beta) expanded to (m,), eps
    slope: float | None  # leaky ReLU's negative slope; None for the output layer


@dataclass
class _Trace:
    """What the forward pass keeps of one layer for the backward passes."""

    inputs: torch.Tensor
    normalised: torch.Tensor | None  # z_hat
    rstd: torch.Tensor | None  # (R, 1)
    activation_input: torch.Tensor | None  # the leaky ReLU's input


def supports(critic: Critic) -> bool:
    """Whether this module can compute the critic's gradients (see the module doc)."""
    modules = [*critic.features, *critic.head]
    for module in modules:
        if isinstance(module, nn.Dropout) and module.p > 0 and critic.training:
            return False
        if not isinstance(
            module,
            ChannelsLastConv1d | ChannelsLastLayerNorm | nn.Identity | nn.LeakyReLU | nn.Flatten | nn.Dropout,
        ) and not isinstance(module, nn.Linear):
            return False
    return True


def _layers(critic: Critic, inputs: CriticInputs) -> tuple[list[_Layer], list[torch.Tensor]]:
    """The critic as a list of `_Layer`s, and the autograd-tracked effective weights they read.

    The layers hold detached copies (the hand-written passes run without autograd); the second list maps
    them back: gradients for its entries are handed to torch.autograd.backward.
    """
    tracked: list[torch.Tensor] = []

    def use(tensor: torch.Tensor) -> torch.Tensor:
        tracked.append(tensor)
        return tensor.detach()

    layers: list[_Layer] = []
    steps = critic.seq_len + 1
    modules = list(critic.features)
    convolutions = [m for m in modules if isinstance(m, ChannelsLastConv1d)]
    for position, (convolution, band) in enumerate(zip(convolutions, inputs.bands, strict=True)):
        index = modules.index(convolution)
        norm_module, activation = modules[index + 1], modules[index + 2]
        assert isinstance(activation, nn.LeakyReLU)
        out_steps = convolution.output_length(steps)
        linear: _Matrix | _Unfolded
        if band is not None:
            linear = _Matrix(use(band))
        else:
            channels = slice(0, 1) if position == 0 else slice(None)
            kernel = convolution.weight[:, channels].transpose(1, 2).reshape(convolution.out_channels, -1)
            linear = _Unfolded(use(kernel), convolution, steps)
        assert convolution.bias is not None
        bias = use(convolution.bias.repeat(out_steps))
        norm = None
        if isinstance(norm_module, ChannelsLastLayerNorm):
            gamma = use(norm_module.weight.repeat(out_steps))
            beta = use(norm_module.bias.repeat(out_steps))
            norm = (gamma, beta, 1e-5)
        layers.append(_Layer(linear, bias, norm, activation.negative_slope))
        steps = out_steps
    head = list(critic.head)
    for position, module in enumerate(head):
        if isinstance(module, nn.Linear):
            following = head[position + 1] if position + 1 < len(head) else None
            slope = following.negative_slope if isinstance(following, nn.LeakyReLU) else None
            layers.append(_Layer(_Matrix(use(module.weight)), use(module.bias), None, slope))
    return layers, tracked


def _forward(
    layers: list[_Layer], series: torch.Tensor, conditioning: torch.Tensor | None
) -> tuple[torch.Tensor, list[_Trace]]:
    """Scores (R,) of series (R, T + 1) and the traces; conditioning (B, m_0) is shared by R / B groups."""
    x = series
    traces = []
    for position, layer in enumerate(layers):
        z = layer.linear.apply(x)
        if layer.bias is not None:
            z.add_(layer.bias)
        if position == 0 and conditioning is not None:
            flat = conditioning.reshape(conditioning.shape[0], -1)
            z.view(-1, *flat.shape).add_(flat)
        normalised = rstd = None
        if layer.norm is not None:
            gamma, beta, eps = layer.norm
            normalised, _, rstd = torch.native_layer_norm(z, [z.shape[1]], None, None, eps)
            z = torch.addcmul(beta, normalised, gamma)
        traces.append(_Trace(x, normalised, rstd, z if layer.slope is not None else None))
        x = nn.functional.leaky_relu(z, layer.slope) if layer.slope is not None else z
    return x.squeeze(1), traces


def _norm_backward(grad: torch.Tensor, normalised: torch.Tensor, rstd: torch.Tensor) -> torch.Tensor:
    """Layer norm's input gradient from z_hat's gradient q: rstd * (q - mean(q) - z_hat * mean(q z_hat))."""
    width = grad.shape[1]
    centred = grad - grad.sum(1, keepdim=True).div_(width)
    projection = (grad * normalised).sum(1, keepdim=True).div_(width)
    return centred.sub_(normalised * projection).mul_(rstd)


@dataclass
class _Backward:
    """Per layer: the gradients of its affine output z and of its norm's output (None: zero or no norm)."""

    grad_z: list[torch.Tensor | None]
    grad_norm_out: list[torch.Tensor | None]
    grad_input: torch.Tensor | None


def _backward(
    layers: list[_Layer],
    traces: list[_Trace],
    top: torch.Tensor | None,
    sources: dict[int, torch.Tensor] | None = None,
    rows: slice = slice(None),
    input_grad: slice | None = None,
) -> _Backward:
    """First-order backward over `rows`: d(sum_r top_r D_r + sum_l <sources_l, z_l>)/dz for every layer.

    :param top: per-row weights (R, 1) of the scores, or None (sources only; layers above the highest
        source get None).
    :param input_grad: the rows (of `rows`) whose input gradient is wanted, or None.
    """
    sources = sources or {}
    count = len(layers)
    grad_z: list[torch.Tensor | None] = [None] * count
    grad_norm_out: list[torch.Tensor | None] = [None] * count
    grad_a: torch.Tensor | None = None
    if top is not None:
        last = layers[-1].linear
        assert isinstance(last, _Matrix)
        grad_z[-1] = top
        grad_a = top * last.weight
    for position in range(count - 2, -1, -1):
        layer, trace = layers[position], traces[position]
        grad: torch.Tensor | None = None
        if grad_a is not None:
            assert trace.activation_input is not None and layer.slope is not None
            grad_u = _leaky_relu_backward(grad_a, trace.activation_input[rows], layer.slope, False)
            if layer.norm is not None:
                assert trace.normalised is not None and trace.rstd is not None
                grad = _norm_backward(grad_u * layer.norm[0], trace.normalised[rows], trace.rstd[rows])
                grad_norm_out[position] = grad_u
            else:
                grad = grad_u
        if position in sources:
            grad = sources[position] if grad is None else grad + sources[position]
        grad_z[position] = grad
        if grad is None:
            grad_a = None
        elif position > 0:
            grad_a = layer.linear.adjoint(grad)
        elif input_grad is not None:
            return _Backward(grad_z, grad_norm_out, layer.linear.adjoint(grad[input_grad]))
    return _Backward(grad_z, grad_norm_out, None)


@dataclass
class _Sweep:
    """The double backward's results: sources of the second backward pass (the layer norms' second-order
    terms), per layer the (y, x) pair of its weight-gradient term y^T x and the norm scale's gradient."""

    sources: dict[int, torch.Tensor]
    pairs: list[tuple[torch.Tensor, torch.Tensor]]
    gamma_grads: list[torch.Tensor | None]


def _penalty_sweep(
    layers: list[_Layer], traces: list[_Trace], backward: _Backward, grad_g: torch.Tensor, rows: slice
) -> _Sweep:
    """Carry the adjoint of g = dD/dx (on `rows`) back through the backward pass that produced g.

    That pass ran, per layer and downwards: phi = psi * slope(u), zeta = norm_backward(phi), and
    psi_below = zeta W. Its adjoints run upwards, from the input's adjoint grad_g.
    """
    sources: dict[int, torch.Tensor] = {}
    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
    gamma_grads: list[torch.Tensor | None] = []
    adjoint = grad_g  # adjoint of psi at this layer's input
    for position, layer in enumerate(layers[:-1]):
        trace = traces[position]
        zeta = backward.grad_z[position]
        assert zeta is not None
        zeta = zeta[rows]
        pairs.append((zeta, adjoint))  # d/dW of <adjoint, zeta W>
        grad_zeta = layer.linear.apply(adjoint)
        if layer.norm is not None:
            gamma = layer.norm[0]
            grad_u = backward.grad_norm_out[position]
            assert trace.normalised is not None and trace.rstd is not None and grad_u is not None
            normalised, rstd = trace.normalised[rows], trace.rstd[rows]
            phi, width = grad_u[rows], zeta.shape[1]
            q = phi * gamma
            # zeta = rstd * P q with the projection P = I - 11^T/m - z_hat z_hat^T/m, symmetric.
            grad_q = _norm_backward(grad_zeta, normalised, rstd)
            gamma_grads.append((grad_q * phi).sum(0))
            grad_phi = grad_q.mul_(gamma)
            # zeta's dependence on z through z_hat (in P) and through rstd.
            mean_qz = (q * normalised).sum(1, keepdim=True).div_(width)
            mean_gz = (grad_zeta * normalised).sum(1, keepdim=True).div_(width)
            grad_normalised = torch.addcmul(grad_zeta * mean_qz, q, mean_gz).mul_(-rstd)
            grad_rstd = (grad_zeta * zeta).sum(1, keepdim=True).div_(rstd)
            source = _norm_backward(grad_normalised, normalised, rstd)
            sources[position] = source.sub_(normalised * (rstd * rstd * grad_rstd / width))
        else:
            grad_phi = grad_zeta
            gamma_grads.append(None)
        assert trace.activation_input is not None and layer.slope is not None
        adjoint = _leaky_relu_backward(grad_phi, trace.activation_input[rows], layer.slope, False)
    # The output layer: psi at its input is its weight row, the same for every row.
    pairs.append((adjoint.new_ones(adjoint.shape[0], 1), adjoint))
    gamma_grads.append(None)
    return _Sweep(sources, pairs, gamma_grads)


@dataclass
class CriticUpdate:
    """The losses of one critic update (detached); the gradients are already in the parameters' .grad."""

    loss: torch.Tensor
    wasserstein: torch.Tensor
    penalty: torch.Tensor


def critic_update(
    critic: Critic,
    window: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    hat: torch.Tensor,
    gp_weight: float,
) -> CriticUpdate:
    """E[D(fake)] - E[D(real)] + gp_weight * E[(||dD/dx(hat)|| - 1)^2]; its gradients go into .grad.

    real, fake, hat: (B, T + 1) series of the same B windows (B, T, F).
    """
    size = real.shape[0]
    inputs = critic.prepare(window)
    layers, tracked = _layers(critic, inputs)
    conditioning = inputs.conditioning
    pair_rows, hat_rows = slice(0, 2 * size), slice(2 * size, 3 * size)
    with torch.no_grad():
        cond = conditioning.detach() if conditioning is not None else None
        scores, traces = _forward(layers, torch.cat([real, fake, hat]), cond)
        d_real, d_fake = scores[:size], scores[size : 2 * size]
        # Row weights of the scores: the loss's -1/B and +1/B, and 1 for the input gradient of D(hat).
        top = scores.new_empty(3 * size, 1)
        top[:size], top[size : pair_rows.stop], top[hat_rows] = -1.0 / size, 1.0 / size, 1.0
        first = _backward(layers, traces, top, input_grad=hat_rows)
        grad = first.grad_input
        assert grad is not None
        norms = torch.linalg.vector_norm(grad, dim=1, keepdim=True)
        penalty = ((norms - 1.0) ** 2).mean()
        # d penalty / d g = 2 (||g|| - 1) g / (||g|| B), zero where g = 0 (as autograd's norm gives).
        scale = torch.where(norms > 0, (norms - 1.0) * (2.0 * gp_weight / size) / norms, 0.0)
        sweep = _penalty_sweep(layers, traces, first, grad * scale, hat_rows)
        second = _backward(layers, traces, None, sweep.sources, rows=hat_rows)
        passes = _Passes(traces, first, second, sweep, pair_rows, hat_rows)
        targets, values = list(tracked), _effective_weight_grads(layers, passes)
        if conditioning is not None:
            targets.append(conditioning)
            values.append(_conditioning_grad(passes, size).view_as(conditioning))
    for parameter in critic.parameters():
        parameter.grad = None
    torch.autograd.backward(targets, values)
    loss = d_fake.mean() - d_real.mean() + gp_weight * penalty
    return CriticUpdate(loss, d_real.mean() - d_fake.mean(), penalty)


@dataclass
class _Passes:
    """The results of a critic update's passes that its gradients are read from.

    `first` ran over all 3B rows (real and generated: `pair_rows`, interpolated: `hat_rows`), `second` and
    the sweep over the interpolated rows only.
    """

    traces: list[_Trace]
    first: _Backward
    second: _Backward
    sweep: _Sweep
    pair_rows: slice
    hat_rows: slice


def _effective_weight_grads(layers: list[_Layer], passes: _Passes) -> list[torch.Tensor]:
    """Per layer, in `_layers`' order: the gradients of its weight, bias and (with a norm) gamma and beta."""
    first, second, sweep = passes.first, passes.second, passes.sweep
    pair_rows, hat_rows = passes.pair_rows, passes.hat_rows
    grads = []
    for position, layer in enumerate(layers):
        trace = passes.traces[position]
        grad_first, grad_second = first.grad_z[position], second.grad_z[position]
        assert grad_first is not None
        zeta, adjoint = sweep.pairs[position]
        ys, xs = [grad_first[pair_rows], zeta], [trace.inputs[pair_rows], adjoint]
        bias = grad_first[pair_rows].sum(0)
        if grad_second is not None:
            ys.append(grad_second)
            xs.append(trace.inputs[hat_rows])
            bias += grad_second.sum(0)
        grads += [layer.linear.weight_grad(torch.cat(ys), torch.cat(xs)), bias]
        if layer.norm is not None:
            assert trace.normalised is not None
            grad_u1, grad_u2 = first.grad_norm_out[position], second.grad_norm_out[position]
            sweep_gamma = sweep.gamma_grads[position]
            assert grad_u1 is not None and sweep_gamma is not None
            gamma = (grad_u1[pair_rows] * trace.normalised[pair_rows]).sum(0) + sweep_gamma
            beta = grad_u1[pair_rows].sum(0)
            if grad_u2 is not None:
                gamma += (grad_u2 * trace.normalised[hat_rows]).sum(0)
                beta += grad_u2.sum(0)
            grads += [gamma, beta]
    return grads


def _conditioning_grad(passes: _Passes, size: int) -> torch.Tensor:
    """The gradient of the features' share of the first convolution, which every row group adds: (B, m_0)."""
    grad_z0 = passes.first.grad_z[0]
    assert grad_z0 is not None
    flat = grad_z0[passes.pair_rows].view(2, size, -1).sum(0)
    if passes.second.grad_z[0] is not None:
        flat += passes.second.grad_z[0]
    return flat


class _FrozenCritic(torch.autograd.Function):
    """D(series) with the critic's weights held fixed: the backward gives dD/dseries only."""

    @staticmethod
    def forward(
        ctx: Any, series: torch.Tensor, layers: list[_Layer], conditioning: torch.Tensor | None
    ) -> torch.Tensor:
        scores, traces = _forward(layers, series, conditioning)
        ctx.layers, ctx.traces = layers, traces
        return scores

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        result = _backward(ctx.layers, ctx.traces, grad.unsqueeze(1), input_grad=slice(None))
        return result.grad_input, None, None


def frozen_scores(critic: Critic, window: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
    """Critic scores of series (B, T + 1) differentiable in the series only (the generator's update)."""
    with torch.no_grad():
        inputs = critic.prepare(window)
        layers, _ = _layers(critic, inputs)
    out: torch.Tensor = _FrozenCritic.apply(series, layers, inputs.conditioning)
    return out
