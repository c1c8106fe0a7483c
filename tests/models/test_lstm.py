"""The CPU training LSTM equals nn.LSTM: outputs and every gradient, on oneDNN and on the fallback product."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_trader.models import lstm
from gan_trader.models.generator import Generator

pytestmark = pytest.mark.usefixtures("single_thread")


def _gradients(module: nn.LSTM, inputs: torch.Tensor, last: torch.Tensor) -> list[torch.Tensor]:
    weights = torch.randn_like(last)
    grads = torch.autograd.grad((last * weights).sum(), [*module.parameters(), inputs])
    return [g.detach() for g in grads]


@pytest.mark.parametrize("layers", [1, 2])
def test_last_hidden_equals_nn_lstm_in_float64(layers: int) -> None:
    torch.manual_seed(0)
    module = nn.LSTM(6, 5, num_layers=layers).double()
    inputs = torch.randn(7, 4, 6, dtype=torch.double, requires_grad=True)
    torch.manual_seed(1)
    expected = _gradients(module, inputs, module(inputs)[0][-1])
    torch.manual_seed(1)
    mine = lstm.last_hidden(module, inputs)
    torch.testing.assert_close(mine, module(inputs)[0][-1])
    torch.manual_seed(1)
    for got, want in zip(_gradients(module, inputs, lstm.last_hidden(module, inputs)), expected, strict=True):
        torch.testing.assert_close(got, want)


def test_last_hidden_equals_nn_lstm_at_the_original_size_on_onednn() -> None:
    torch.manual_seed(0)
    module = nn.LSTM(120, 500)
    inputs = torch.randn(17, 64, 120, requires_grad=True)
    assert lstm.supports(module, inputs)
    torch.manual_seed(1)
    expected = _gradients(module, inputs, module(inputs)[0][-1])
    torch.manual_seed(1)
    got = _gradients(module, inputs, lstm.last_hidden(module, inputs))
    for mine, want in zip(got, expected, strict=True):
        torch.testing.assert_close(mine, want, rtol=1e-4, atol=1e-5 * want.abs().max().item())


def test_weights_updated_in_place_are_read_afresh() -> None:
    # oneDNN may reorder weights into its own layout; an optimiser step must never meet a stale copy.
    torch.manual_seed(0)
    module = nn.LSTM(120, 500)
    inputs = torch.randn(17, 64, 120)
    before = lstm.last_hidden(module, inputs)
    with torch.no_grad():
        module.weight_hh_l0.mul_(1.5)
        module.bias_ih_l0.add_(0.1)
    after = lstm.last_hidden(module, inputs)
    assert not torch.allclose(before, after)
    with torch.no_grad():
        torch.testing.assert_close(after, module(inputs)[0][-1], rtol=1e-4, atol=1e-5)


def test_the_generator_trains_through_it_and_samples_through_nn_lstm(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    original = lstm.last_hidden

    def counting(module: nn.LSTM, inputs: torch.Tensor) -> torch.Tensor:
        calls.append("fused")
        return original(module, inputs)

    monkeypatch.setattr(lstm, "last_hidden", counting)
    generator = Generator(n_features=112, hidden=500, noise_dim=8)
    window, z = torch.randn(64, 17, 112), torch.randn(64, 8)
    generator(window, z).sum().backward()
    assert calls == ["fused"]
    with torch.no_grad():
        generator(window, z)
    assert calls == ["fused"], "inference keeps nn.LSTM (no saved activations)"
    small = Generator(n_features=3, hidden=8, noise_dim=2)
    small(torch.randn(4, 17, 3), torch.randn(4, 2)).sum().backward()
    assert calls == ["fused"], "tiny layers stay with nn.LSTM's fused kernel"
