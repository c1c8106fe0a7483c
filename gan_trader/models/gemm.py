"""The fastest float32 matrix product torch offers on this device, for the GAN's training step.

On CPU, torch.mm goes to the BLAS torch was built with (MKL in the PyPI wheels), while oneDNN, which torch
also ships, reaches the same matrix products through its own JIT kernels. They are not equally fast
everywhere: MKL takes its AVX2 code path on AMD processors, so on an AVX-512 EPYC oneDNN runs the step's
products much faster (`gan-trader bench` reports both rates; docs/performance.md has past figures). A
product through oneDNN has a fixed cost per call, so small ones stay with torch.mm.

`linear` is differentiable to any order (the gradient penalty differentiates the critic's input gradient);
`matmul_nt` is the raw product for code that writes its own backward (`critic_grad`).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch.nn import functional as F

# Below this many FLOPs a product's fixed oneDNN call cost outweighs its faster kernel.
ONEDNN_MIN_FLOPS = 1 << 21


@functools.cache
def onednn_available() -> bool:
    """Whether torch exposes oneDNN's float32 matrix product (x86/arm CPU builds with mkldnn)."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        return hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):
        return False


def onednn_product(device: torch.device, dtype: torch.dtype, rows: int, inner: int, cols: int) -> bool:
    """Whether a (rows x inner) @ (inner x cols) product runs through oneDNN (CPU float32, big enough)."""
    return (
        device.type == "cpu"
        and dtype == torch.float32
        and 2 * rows * inner * cols >= ONEDNN_MIN_FLOPS
        and bool(torch._C._get_mkldnn_enabled())
        and onednn_available()
    )


def matmul_nt(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x @ weight.T (+ bias) for 2-D x (N, K) and weight (M, K), either of them possibly a strided view.

    No autograd of its own: callers inside a custom backward, or `linear` below.
    """
    if weight.dtype == x.dtype and onednn_product(x.device, x.dtype, x.shape[0], x.shape[1], weight.shape[0]):
        return torch.ops.mkldnn._linear_pointwise(_dense(x), _dense(weight), bias, "none", [], "")
    if bias is None:
        return torch.mm(x, weight.t())
    return torch.addmm(bias, x, weight.t())


def _dense(matrix: torch.Tensor) -> torch.Tensor:
    """The matrix itself when row- or column-major without gaps, else a contiguous copy.

    oneDNN takes both layouts at full speed but falls back to a reference kernel, orders of magnitude
    slower, on other strides (a column slice of a wider matrix, say).
    """
    rows, cols = matrix.shape
    if matrix.stride() in ((cols, 1), (1, rows)) or matrix.numel() == 0:
        return matrix
    return matrix.contiguous()


class _Linear(torch.autograd.Function):
    """y = x W^T + b through `matmul_nt`; its backward is built from `linear` again, so it differentiates."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return matmul_nt(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad_x = linear(grad, weight.t()) if ctx.needs_input_grad[0] else None
        grad_weight = linear(grad.t(), x.t()) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear with the product on the fastest float32 GEMM here; differentiable to any order.

    x may have leading batch dimensions, as with F.linear.
    """
    flat = x.reshape(-1, x.shape[-1]) if x.dim() != 2 else x
    if weight.dtype != x.dtype or not onednn_product(
        x.device, x.dtype, flat.shape[0], flat.shape[1], weight.shape[0]
    ):
        return F.linear(x, weight, bias)
    out = _Linear.apply(flat, weight, bias)
    return out if x.dim() == 2 else out.view(*x.shape[:-1], weight.shape[0])


class Linear(torch.nn.Linear):
    """nn.Linear (same parameters, init and state dict) computing through `linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
