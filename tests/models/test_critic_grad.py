"""The hand-derived WGAN-GP gradients equal autograd's double backward on every supported critic layout."""

from __future__ import annotations

import pytest
import torch

from gan_trader.config import CriticConfig, GanConfig
from gan_trader.models import critic_grad
from gan_trader.models.critic import Critic, series_with_next
from gan_trader.models.wgan import GanTrainer

pytestmark = pytest.mark.usefixtures("single_thread")

LAYOUTS = {
    "layer norm, features, stride 2 (the default's shape)": {"filters": [3, 4, 5], "norm": "layer"},
    "no norm": {"filters": [3, 4, 5], "norm": "none"},
    "no features, stride 1": {"filters": [2, 3], "strides": 1, "conditioning": False},
    "stride 3, one layer": {"filters": [4], "strides": 3, "norm": "none", "conditioning": False},
    # 18 steps of 16+ channels at stride 1 are unfolded rather than banded.
    "unfolded convolutions, layer norm": {"filters": [16, 32], "strides": 1},
    "unfolded convolutions, no norm": {"filters": [16, 32], "strides": 1, "norm": "none"},
    "same padding, kernel 3": {"filters": [3, 6], "kernel_size": 3, "padding": "same"},
}


def _critic(layout: dict[str, object]) -> Critic:
    torch.manual_seed(0)
    config = CriticConfig.model_validate({"dense": [7, 6], "lrelu_alpha": 0.2, **layout})
    critic = Critic(config, seq_len=17, n_features=3).double()
    with torch.no_grad():
        for parameter in critic.parameters():  # away from the init's symmetric values (gamma = 1, beta = 0)
            parameter.normal_(0.0, 0.5)
    return critic


def _series(size: int = 5) -> tuple[torch.Tensor, ...]:
    window = torch.randn(size, 17, 3, dtype=torch.double)
    history = torch.randn(size, 17, dtype=torch.double)
    real = series_with_next(history, torch.randn(size, dtype=torch.double))
    fake = series_with_next(history, torch.randn(size, dtype=torch.double))
    weight = torch.rand(size, 1, dtype=torch.double)
    return window, real, fake, weight * real + (1 - weight) * fake


def _autograd_update(
    critic: Critic,
    window: torch.Tensor,
    real: torch.Tensor,
    fake: torch.Tensor,
    hat: torch.Tensor,
    gp_weight: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = critic.prepare(window)
    size = real.shape[0]
    scores = critic(torch.cat([real, fake]), inputs)
    hat = hat.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(hat, inputs).sum(), hat, create_graph=True)
    penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
    loss = scores[size:].mean() - scores[:size].mean() + gp_weight * penalty
    critic.zero_grad(set_to_none=True)
    loss.backward()
    return loss.detach(), penalty.detach()


@pytest.mark.parametrize("name", LAYOUTS)
def test_critic_update_equals_autograds_double_backward(name: str) -> None:
    critic = _critic(LAYOUTS[name])
    assert critic_grad.supports(critic)
    window, real, fake, hat = _series()
    loss, penalty = _autograd_update(critic, window, real, fake, hat, gp_weight=10.0)
    expected = {n: p.grad.clone() for n, p in critic.named_parameters() if p.grad is not None}
    assert len(expected) == len(list(critic.parameters()))
    update = critic_grad.critic_update(critic, window, real, fake, hat, gp_weight=10.0)
    torch.testing.assert_close(update.loss, loss)
    torch.testing.assert_close(update.penalty, penalty)
    for n, parameter in critic.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[n], msg=lambda m, n=n: f"{n}: {m}")


def test_the_layouts_cover_banded_and_unfolded_convolutions() -> None:
    kinds = set()
    for layout in LAYOUTS.values():
        critic = _critic(layout)
        kinds |= {band is None for band in critic.prepare(torch.zeros(1, 17, 3, dtype=torch.double)).bands}
    assert kinds == {True, False}


def test_a_zero_input_gradient_gives_a_finite_penalty_gradient() -> None:
    critic = _critic({"filters": [3], "norm": "none"})
    with torch.no_grad():
        critic.head[-1].weight.zero_()  # D is constant in its input: g = 0 and ||g|| has no gradient
    window, real, fake, hat = _series()
    update = critic_grad.critic_update(critic, window, real, fake, hat, gp_weight=10.0)
    torch.testing.assert_close(update.penalty, torch.tensor(1.0, dtype=torch.double))
    assert all(torch.isfinite(p.grad).all() for p in critic.parameters())


@pytest.mark.parametrize(
    "name", ["layer norm, features, stride 2 (the default's shape)", "unfolded convolutions, layer norm"]
)
def test_frozen_scores_give_autograds_input_gradient_and_no_weight_gradients(name: str) -> None:
    critic = _critic(LAYOUTS[name])
    window, real, _, _ = _series()
    series = real.clone().requires_grad_(True)
    weights = torch.randn(real.shape[0], dtype=torch.double)
    (expected,) = torch.autograd.grad((critic(series, critic.prepare(window)) * weights).sum(), series)
    scores = critic_grad.frozen_scores(critic, window, series)
    torch.testing.assert_close(scores, critic(real, critic.prepare(window)).detach())
    (grad,) = torch.autograd.grad((scores * weights).sum(), series)
    torch.testing.assert_close(grad, expected)
    critic.zero_grad(set_to_none=True)
    (critic_grad.frozen_scores(critic, window, series) * weights).sum().backward()
    assert all(p.grad is None for p in critic.parameters())


def test_batch_norm_and_critic_dropout_fall_back_to_autograd() -> None:
    batch_norm = Critic(CriticConfig.model_validate({"norm": "batch"}), seq_len=17, n_features=3)
    assert not critic_grad.supports(batch_norm)
    dropout = Critic(CriticConfig.model_validate({"dropout": 0.2}), seq_len=17, n_features=3)
    assert not critic_grad.supports(dropout)
    assert critic_grad.supports(dropout.eval())


def test_the_trainers_critic_step_is_the_same_either_way() -> None:
    config = GanConfig.model_validate(
        {
            "generator": {"hidden": 8, "noise_dim": 2},
            "critic": {"filters": [4, 8], "dense": [6]},
            "n_critic": 1,
        }
    )
    batch_data = torch.Generator().manual_seed(3)
    shapes = ((6, 17, 3), (6, 17), (6,))
    from gan_trader.models.wgan import Batch

    batch = Batch(*(torch.randn(*shape, generator=batch_data, dtype=torch.double) for shape in shapes))
    results = []
    for hand in (True, False):
        torch.manual_seed(0)
        trainer = GanTrainer(config, n_features=3, seq_len=17, device=torch.device("cpu"))
        trainer.generator.double()
        trainer.critic.double()
        trainer.noise.manual_seed(0)
        trainer._hand_gradients = lambda hand=hand: hand  # type: ignore[method-assign]
        stats = trainer.step(batch)
        results.append(
            (
                stats,
                [p.detach().clone() for p in trainer.critic.parameters()],
                [p.detach().clone() for p in trainer.generator.parameters()],
            )
        )
    (hand_stats, hand_critic, hand_gen), (auto_stats, auto_critic, auto_gen) = results
    for key in ("train/loss_d", "train/gp", "train/wasserstein", "train/loss_g"):
        torch.testing.assert_close(hand_stats[key], auto_stats[key])
    for a, b in zip(hand_critic + hand_gen, auto_critic + auto_gen, strict=True):
        torch.testing.assert_close(a, b)
