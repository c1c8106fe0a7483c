"""The oneDNN route for products: same values and derivatives (to second order) as F.linear."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from gan_trader.models import gemm

pytestmark = [
    pytest.mark.usefixtures("single_thread"),
    pytest.mark.skipif(not gemm.onednn_available(), reason="torch built without oneDNN"),
]


def test_large_products_go_through_onednn_and_small_ones_do_not() -> None:
    cpu = torch.device("cpu")
    assert gemm.onednn_product(cpu, torch.float32, 64, 500, 2000)
    assert not gemm.onednn_product(cpu, torch.float32, 4, 5, 6)
    assert not gemm.onednn_product(cpu, torch.float64, 64, 500, 2000)


def test_strided_operands_give_the_right_product() -> None:
    torch.manual_seed(0)
    wide = torch.randn(300, 565)
    x = torch.randn(576, 560)
    for weight in (wide[:32, 5:], torch.randn(560, 32).t(), torch.randn(32, 560)):
        # a column slice of a wider matrix sends oneDNN to a reference kernel unless it is copied first
        torch.testing.assert_close(gemm.matmul_nt(x, weight), x @ weight.t(), rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(
            gemm.matmul_nt(x.t().contiguous().t(), weight), x @ weight.t(), rtol=1e-4, atol=1e-3
        )


def test_linear_matches_f_linear_to_the_second_derivative() -> None:
    torch.manual_seed(0)
    x = torch.randn(192, 384, requires_grad=True)
    weight = torch.randn(220, 384, requires_grad=True)
    bias = torch.randn(220, requires_grad=True)
    probe = torch.randn(192, 220)

    def derivatives(fn):  # type: ignore[no-untyped-def]
        out = fn(x, weight, bias)
        grads = torch.autograd.grad((out * probe).sum().tanh(), (x, weight, bias), create_graph=True)
        second = torch.autograd.grad(sum((g**2).sum() for g in grads), (x, weight, bias))
        return [out, *grads, *second]

    for mine, want in zip(derivatives(gemm.linear), derivatives(F.linear), strict=True):
        torch.testing.assert_close(mine, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
