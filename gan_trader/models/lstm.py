"""An LSTM layer for CPU training that does only the products its gradients need, on the fastest GEMM.

PyTorch's CPU LSTM (oneDNN's fused kernel) also multiplies the zero initial state by the recurrent weights,
forward and backward, and always computes the gradient of its input, which the generator's first layer (data
windows and noise) never needs: about 12 % more arithmetic at the original's size. Here the layer is written
as one autograd Function whose products are the ones the benchmark counts: one input projection of all
steps, T - 1 recurrent products forward and backward, and the weight gradients as two large products, all
through `gemm.matmul_nt`. The element-wise cell runs in place on the gate buffers; tanh is computed as
2 sigmoid(2x) - 1, several times faster than torch's tanh on CPU.

Used by the generator in training on CPU in float32 when oneDNN is present (`supports`); elsewhere, and for
inference (no saved activations), nn.LSTM runs. Parameters stay nn.LSTM's, in its gate order i, f, g, o.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from gan_trader.models.gemm import matmul_nt, onednn_product

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.grad_input


def _tanh_(x: torch.Tensor) -> torch.Tensor:
    """In place: tanh(x) = 2 sigmoid(2x) - 1."""
    return torch.sigmoid_(x.mul_(2.0)).mul_(2.0).sub_(1.0)


def supports(lstm: nn.LSTM, inputs: torch.Tensor) -> bool:
    """Whether `last_hidden` can train this nn.LSTM on these time-major inputs here."""
    return (
        torch.is_grad_enabled()
        and bool(lstm.weight_ih_l0.requires_grad)
        and not lstm.batch_first
        and not lstm.bidirectional
        and lstm.bias is True
        and lstm.proj_size == 0
        and inputs.dim() == 3
        and inputs.dtype == lstm.weight_hh_l0.dtype
        and onednn_product(
            inputs.device, inputs.dtype, inputs.shape[1], lstm.hidden_size, 4 * lstm.hidden_size
        )
    )


def last_hidden(lstm: nn.LSTM, inputs: torch.Tensor) -> torch.Tensor:
    """The top layer's last hidden state (B, H) for time-major inputs (T, B, In), zero initial state.

    Equals nn.LSTM's out[-1] (to float32 rounding), with nn.LSTM's dropout between stacked layers.
    """
    x = inputs
    for layer in range(lstm.num_layers):
        top = layer == lstm.num_layers - 1
        weights = [
            getattr(lstm, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        x = _LstmLayer.apply(x, *weights, not top)
        if not top:
            x = F.dropout(x, lstm.dropout, lstm.training)
    return x


class _LstmLayer(torch.autograd.Function):
    """One LSTM layer: (T, B, In) -> all hidden states (T, B, H) when `sequence`, else the last (B, H)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight_ih: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_ih: torch.Tensor,
        bias_hh: torch.Tensor,
        sequence: bool,
    ) -> torch.Tensor:
        steps, batch, n_in = x.shape
        hidden = weight_hh.shape[1]
        i, f, g, o = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
        # gates[t] holds the pre-activations, then (in place) the activations i, f, g, o of step t.
        gates = matmul_nt(x.reshape(steps * batch, n_in), weight_ih, bias_ih + bias_hh).view(steps, batch, -1)
        cells, tanh_cells, states = (x.new_empty(steps, batch, hidden) for _ in range(3))
        for t in range(steps):
            gate = gates[t]
            if t:  # h_{-1} = 0: step 0 has no recurrent product
                gate.add_(matmul_nt(states[t - 1], weight_hh))
            gate[:, g].mul_(2.0)
            torch.sigmoid_(gate)
            gate[:, g].mul_(2.0).sub_(1.0)
            if t:
                torch.mul(gate[:, f], cells[t - 1], out=cells[t]).addcmul_(gate[:, i], gate[:, g])
            else:
                torch.mul(gate[:, i], gate[:, g], out=cells[t])
            _tanh_(tanh_cells[t].copy_(cells[t]))
            torch.mul(gate[:, o], tanh_cells[t], out=states[t])
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, cells, tanh_cells, states)
        ctx.sequence = sequence
        return states if sequence else states[-1].clone()

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight_ih, weight_hh, gates, cells, tanh_cells, states = ctx.saved_tensors
        steps, batch, n_in = x.shape
        hidden = weight_hh.shape[1]
        i, f, g, o = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
        sig = slice(0, 2 * hidden)  # i and f: one sigmoid backward for both
        grad_gates = x.new_empty(steps, batch, 4 * hidden)
        grad_cell = x.new_empty(batch, hidden)
        scratch = x.new_empty(batch, hidden)
        grad_h = grad_out[-1] if ctx.sequence else grad_out
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                grad_h = matmul_nt(grad_gates[t + 1], weight_hh.t())
                if ctx.sequence:
                    grad_h.add_(grad_out[t])
            gate, grad_gate = gates[t], grad_gates[t]
            tanh_cell = tanh_cells[t]
            torch.mul(grad_h, gate[:, o], out=scratch)
            if t == steps - 1:
                _tanh_backward(scratch, tanh_cell, grad_input=grad_cell)
            else:
                grad_cell.add_(_tanh_backward(scratch, tanh_cell, grad_input=scratch))
            torch.mul(grad_h, tanh_cell, out=grad_gate[:, o])
            _sigmoid_backward(grad_gate[:, o], gate[:, o], grad_input=grad_gate[:, o])
            torch.mul(grad_cell, gate[:, g], out=grad_gate[:, i])
            if t:
                torch.mul(grad_cell, cells[t - 1], out=grad_gate[:, f])
            else:
                grad_gate[:, f].zero_()
            _sigmoid_backward(grad_gate[:, sig], gate[:, sig], grad_input=grad_gate[:, sig])
            torch.mul(grad_cell, gate[:, i], out=grad_gate[:, g])
            _tanh_backward(grad_gate[:, g], gate[:, g], grad_input=grad_gate[:, g])
            grad_cell.mul_(gate[:, f])
        flat = grad_gates.view(steps * batch, -1)
        # X^T with a row of ones: one product gives the input weights' gradient and (last row) the bias's.
        inputs_t = x.new_empty(n_in + 1, steps * batch)
        inputs_t[:n_in].copy_(x.reshape(steps * batch, n_in).t())
        inputs_t[n_in].fill_(1.0)
        grad_ih_t = matmul_nt(inputs_t, flat.t())
        grad_weight_ih = grad_ih_t[:n_in].t().contiguous()
        grad_bias = grad_ih_t[n_in]
        previous_t = states[:-1].reshape(-1, hidden).t().contiguous()
        grad_weight_hh = matmul_nt(previous_t, grad_gates[1:].reshape(-1, 4 * hidden).t()).t().contiguous()
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = matmul_nt(flat, weight_ih.t()).view(steps, batch, n_in)
        return grad_x, grad_weight_ih, grad_weight_hh, grad_bias, grad_bias, None
