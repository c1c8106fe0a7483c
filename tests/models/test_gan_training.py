"""WGAN training: losses, the gradient penalty on the next value, the CRPS term, the fitting loop,
determinism, failures, checkpoints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gan_fixtures import make_gan_task, tiny_gan

from gan_trader.config import ScheduleConfig
from gan_trader.errors import EpisodeFailed, TrainingError
from gan_trader.models.base import Forecast
from gan_trader.models.critic import Critic
from gan_trader.models.mh import CriticCalibrator
from gan_trader.models.scoring import crps_fair, forecast_metrics
from gan_trader.models.wgan import (
    CALIBRATION_SAMPLES,
    Batch,
    GanForecaster,
    GanTrainer,
    crps_loss,
    triangular_multiplier,
)

pytestmark = pytest.mark.usefixtures("single_thread")

EPOCH_KEYS = {
    "train/loss_d",
    "train/loss_g",
    "train/wasserstein",
    "train/gp",
    "train/crps",
    "train/l1",
    "train/lr",
    "val/mae",
    "val/rmse",
    "val/relmae",
    "val/directional_accuracy",
}


class Recorder:
    def __init__(self) -> None:
        self.epochs: list[tuple[int, dict[str, float]]] = []
        self.figures: list[str] = []
        self.checkpoints: list[Path] = []

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append((epoch, metrics))

    def on_figure(self, name: str, figure: Any) -> None:
        assert figure.axes, "an empty figure"
        self.figures.append(name)

    def on_checkpoint(self, path: Path) -> None:
        self.checkpoints.append(path)


def random_batch(size: int = 16, features: int = 3) -> Batch:
    generator = torch.Generator().manual_seed(0)
    return Batch(
        torch.randn(size, 17, features + 1, generator=generator), torch.randn(size, generator=generator)
    )


@pytest.mark.parametrize(
    "loss,norm",
    [
        ("wgan-gp", "layer"),
        ("wgan-clip", "batch"),
        ("gan", "batch"),
        ("gan", "none"),
        ("score", "layer"),
        ("l1", "layer"),
    ],
)
def test_every_loss_trains_with_finite_values(loss: str, norm: str) -> None:
    config = tiny_gan(loss=loss, n_critic=1, critic={"norm": norm})
    trainer = GanTrainer(config, n_features=3, seq_len=17, device=torch.device("cpu"))
    before = [p.detach().clone() for p in trainer.generator.parameters()]
    for _ in range(3):
        stats = trainer.step(random_batch())
    assert all(math.isfinite(float(v)) for v in stats.values())
    expected = {"train/loss_g", "train/crps", "train/l1"} | (
        {"train/loss_d", "train/wasserstein"} if loss not in ("score", "l1") else set()
    )
    assert expected <= set(stats)
    assert ("train/gp" in stats) == (loss == "wgan-gp")
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters(), strict=True))
    if loss == "wgan-clip":
        assert max(p.abs().max().item() for p in trainer.critic.parameters()) <= config.clip_value + 1e-7


def test_critic_updates_n_critic_times_per_generator_update() -> None:
    trainer = GanTrainer(tiny_gan(n_critic=3), n_features=3, seq_len=17, device=torch.device("cpu"))
    updates = ["train/loss_g" in trainer.step(random_batch()) for _ in range(6)]
    assert updates == [False, False, True, False, False, True]


def test_gradient_penalty_is_taken_on_the_next_value_one_uniform_weight_per_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainer = GanTrainer(tiny_gan(n_critic=5), n_features=3, seq_len=17, device=torch.device("cpu"))
    scored: list[torch.Tensor] = []
    original = Critic.score

    def recording_score(self: Critic, encoding: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        scored.append(values.detach().clone())
        return original(self, encoding, values)

    monkeypatch.setattr(Critic, "score", recording_score)
    batch = random_batch(size=64)
    trainer.step(batch)  # a critic-only step: real, generated, interpolated values of the same windows
    real, fake, hat = scored
    torch.testing.assert_close(real, batch.target)
    assert fake.shape == hat.shape == (64, trainer.config.train_samples)
    weight = (hat - fake) / (batch.target[:, None] - fake)
    assert ((weight >= 0) & (weight <= 1)).all()
    assert weight.std() > 0.15, "one U(0,1) draw per generated value, not one per batch"


def test_penalty_bounds_the_critics_slope_in_the_next_value() -> None:
    torch.manual_seed(0)
    batch = random_batch(size=64)
    slopes = {}
    for gp_weight in (10.0, 0.0):
        trainer = GanTrainer(tiny_gan(n_critic=1, gp_weight=gp_weight), 3, 17, torch.device("cpu"))
        for _ in range(200):  # the critic alone, against a fixed generator
            trainer.step(batch, train_generator=False)
        values = torch.linspace(-2, 2, 9).repeat(64, 1).requires_grad_()
        (slope,) = torch.autograd.grad(trainer.critic(batch.window, values).sum(), values)
        slopes[gp_weight] = float(slope.abs().mean())
    assert slopes[10.0] < 1.5 < slopes[0.0], slopes


def test_crps_loss_is_the_fair_crps_and_rewards_the_right_spread() -> None:
    generator = torch.Generator().manual_seed(0)
    draws, target = torch.randn(50, 6, generator=generator), torch.randn(50, generator=generator)
    expected = crps_fair(target.numpy(), draws.numpy()).mean()
    assert float(crps_loss(draws, target)) == pytest.approx(expected, rel=1e-5)
    outcomes = torch.randn(20000, generator=generator)
    losses = [float(crps_loss(s * torch.randn(20000, 8, generator=generator), outcomes)) for s in (0.3, 1, 3)]
    assert losses[1] < min(losses[0], losses[2]), "draws as wide as the outcomes score best"


def test_schedule_multiplies_the_base_rate_triangularly() -> None:
    schedule = ScheduleConfig.model_validate({"kind": "triangular", "low": 0.5, "high": 2.0, "period": 500})
    values = [triangular_multiplier(i, schedule) for i in (0, 125, 250, 375, 500, 750)]
    assert values == pytest.approx([0.5, 1.25, 2.0, 1.25, 0.5, 2.0])
    assert triangular_multiplier(250, ScheduleConfig.model_validate({"kind": "none"})) == 1.0
    trainer = GanTrainer(
        tiny_gan(schedule={"period": 4}), n_features=3, seq_len=17, device=torch.device("cpu")
    )
    rates = []
    for _ in range(3):
        trainer.step(random_batch())
        rates.append(trainer.opt_d.param_groups[0]["lr"] / trainer.config.lr_d)
    assert rates == pytest.approx([0.5, 1.25, 2.0])


def test_fit_runs_end_to_end_on_real_data_and_forecasts_with_samples(gan_task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    model = GanForecaster(tiny_gan(epochs=3, plot_epochs=[1]), callback=recorder, checkpoint_dir=tmp_path)
    model.fit(gan_task)
    assert [epoch for epoch, _ in recorder.epochs] == [1, 2, 3]
    assert set(recorder.epochs[0][1]) >= EPOCH_KEYS
    assert all(math.isfinite(v) for _, metrics in recorder.epochs for v in metrics.values())
    assert recorder.figures == ["val_predicted_epoch_001", "val_predicted_epoch_003_last"]
    assert model.best_epoch in (1, 2, 3) and model.best_score == min(
        h[model.config.early_stopping_metric] for h in model.history
    )
    assert {p.name for p in recorder.checkpoints} >= {"best.pt", "last.pt", "model.pt"}
    origins = gan_task.origins("test")
    forecast = model.predict(gan_task, origins)
    chains = model.config.mh.chains
    assert isinstance(forecast, Forecast) and len(forecast.origins) == len(origins)
    assert forecast.samples is not None and forecast.samples.shape == (len(origins), chains)
    # The point forecast is the distribution's mean (gan.point), never one draw.
    np.testing.assert_allclose(forecast.log_return, forecast.samples.mean(axis=1), rtol=1e-9, atol=1e-12)
    assert set(forecast.extra["quantiles"]) == {0.05, 0.25, 0.5, 0.75, 0.95}
    raw, mh = forecast.ablations
    diagnostics = ("mh_acceptance", "critic_auc", "turner_z")
    assert all(isinstance(mh.extra[k], float) for k in diagnostics)
    assert (raw.model, mh.model) == ("gan_raw", "gan_mh")
    assert raw.samples is not None and mh.samples is not None
    assert raw.samples.shape == mh.samples.shape == forecast.samples.shape  # equal sample counts
    chosen = mh if model.uses_mh() else raw
    np.testing.assert_array_equal(forecast.samples, chosen.samples)
    # The `gan` row says which samples it is, and carries MH's diagnostics only when it is MH's samples.
    assert forecast.extra["uses_mh"] == float(chosen is mh)
    assert all((k in forecast.extra) == (chosen is mh) for k in diagnostics)
    assert not any(k in raw.extra for k in diagnostics)
    for choice, uses_mh in (("raw", 0.0), ("mh", 1.0)):
        model.config = model.config.model_copy(
            update={"mh": model.config.mh.model_copy(update={"forecast": choice})}
        )
        chosen_forecast = model.predict(gan_task, origins)
        assert chosen_forecast.extra["uses_mh"] == uses_mh
        assert all((k in chosen_forecast.extra) == bool(uses_mh) for k in diagnostics), chosen_forecast.extra
    metrics = forecast_metrics(gan_task, forecast)
    assert math.isfinite(metrics["relmae"]) and math.isfinite(metrics["price_mae"])
    reloaded = GanForecaster.load(tmp_path / "model.pt", gan_task)
    np.testing.assert_allclose(reloaded.predict(gan_task, origins).log_return, forecast.log_return, rtol=1e-6)


def test_point_forecast_is_the_median_when_asked(gan_task) -> None:  # type: ignore[no-untyped-def]
    model = GanForecaster(tiny_gan(epochs=1, point="median", mh={"enabled": False})).fit(gan_task)
    forecast = model.predict(gan_task, gan_task.origins("test"))
    assert forecast.samples is not None and not forecast.ablations
    np.testing.assert_allclose(
        forecast.log_return, np.median(forecast.samples, axis=1), rtol=1e-9, atol=1e-12
    )
    # Another task is forecast from its own rows, with the fitted scalers; it must have the same columns.
    other = dataclasses.replace(gan_task, features=gan_task.features.iloc[:, :-1])
    with pytest.raises(TrainingError, match="other feature columns"):
        model.predict(other, other.origins("test"))


def test_price_target_and_generator_ablations_forecast(real_panel) -> None:  # type: ignore[no-untyped-def]
    task = make_gan_task(real_panel, target_kind="price")
    forecast = GanForecaster(tiny_gan(epochs=1)).fit(task).predict(task, task.origins("test"))
    assert forecast.samples is not None and np.isfinite(forecast.samples).all()
    assert np.allclose(
        task.close.loc[forecast.origins].to_numpy() * np.exp(forecast.log_return), forecast.price
    )
    for loss in ("l1", "score"):
        ablation = GanForecaster(tiny_gan(epochs=1, loss=loss)).fit(task)
        assert ablation.calibration is None and ablation.trainer is not None
        assert not ablation.trainer.uses_critic
        plain = ablation.predict(task, task.origins("test"))
        assert plain.samples is not None and plain.model == f"gan_{loss}" and not plain.ablations


def test_calibration_is_fitted_on_validation_windows_only(gan_task, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    windows: list[np.ndarray] = []
    original_score = GanTrainer.score
    fitted: list[tuple[int, int]] = []
    original_fit = CriticCalibrator.fit

    def spy_score(self, window, values):  # type: ignore[no-untyped-def]
        windows.append(window.numpy().copy())
        return original_score(self, window, values)

    def spy_fit(self, real_scores, fake_scores):  # type: ignore[no-untyped-def]
        fitted.append((np.size(real_scores), np.size(fake_scores)))
        return original_fit(self, real_scores, fake_scores)

    monkeypatch.setattr(GanTrainer, "score", spy_score)
    monkeypatch.setattr(CriticCalibrator, "fit", spy_fit)
    model = GanForecaster(tiny_gan(epochs=1)).fit(gan_task)
    assert model.maker is not None
    val = model.maker.windows(gan_task.origins("val"))
    history = np.concatenate([val.x, val.history[:, :, None]], axis=2)
    # Real and generated values of all validation windows, then MH on each half: validation windows only.
    assert len(windows) == 4
    assert all(np.array_equal(w, history) for w in windows[:2])
    half = len(val) // 2
    assert np.array_equal(windows[2], history[:half]) and np.array_equal(windows[3], history[half:])
    n = len(val)
    # Each half judged by a map fitted on the other half, then the map MH uses, fitted on all of them.
    assert fitted == [
        (n - half, CALIBRATION_SAMPLES * (n - half)),
        (half, CALIBRATION_SAMPLES * half),
        (n, CALIBRATION_SAMPLES * n),
    ]


def test_same_seed_same_metrics_and_different_seeds_differ(gan_task) -> None:  # type: ignore[no-untyped-def]
    runs = [
        GanForecaster(tiny_gan(generator={"dropout": 0.2}), seed=seed).fit(gan_task) for seed in (5, 5, 6)
    ]
    assert runs[0].history == runs[1].history
    assert runs[0].history != runs[2].history
    origins = gan_task.origins("test")
    first, second = runs[0].predict(gan_task, origins), runs[1].predict(gan_task, origins)
    np.testing.assert_array_equal(first.samples, second.samples)
    np.testing.assert_array_equal(first.log_return, second.log_return)


def test_non_finite_loss_ends_the_episode_with_its_reason(gan_task) -> None:  # type: ignore[no-untyped-def]
    class Poison(Recorder):
        model: GanForecaster

        def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
            assert self.model.trainer is not None
            with torch.no_grad():
                last = self.model.trainer.critic.head[-1]
                assert isinstance(last, torch.nn.Linear)
                last.weight.fill_(float("nan"))

    poison = Poison()
    poison.model = GanForecaster(tiny_gan(epochs=3), callback=poison)
    with pytest.raises(EpisodeFailed, match=r"epoch 2: train/\w+ is not finite") as failure:
        poison.model.fit(gan_task)
    assert "epoch 2" in failure.value.reason


def test_non_finite_inputs_end_the_episode(gan_task) -> None:  # type: ignore[no-untyped-def]
    model = GanForecaster(tiny_gan())
    model._setup(gan_task)
    assert model.maker is not None
    model.maker.target_next[50] = np.nan  # a training origin
    with pytest.raises(EpisodeFailed, match="non-finite training inputs"):
        model._train(gan_task, 1)


def test_resume_continues_exactly_where_training_stopped(gan_task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tiny_gan(epochs=4, early_stopping_patience=None, generator={"dropout": 0.1})
    straight = GanForecaster(config).fit(gan_task)
    first = GanForecaster(config, checkpoint_dir=tmp_path).fit(gan_task, epochs=2)
    assert first.last_checkpoint == tmp_path / "last.pt" and first.epoch == 2
    resumed = GanForecaster(config).fit(gan_task, resume_from=tmp_path / "last.pt", epochs=2)
    assert resumed.epoch == 4
    assert resumed.history == straight.history
    assert resumed.best_epoch == straight.best_epoch
    origins = gan_task.origins("test")
    np.testing.assert_array_equal(
        resumed.predict(gan_task, origins).log_return, straight.predict(gan_task, origins).log_return
    )


def test_early_stopping_stops_after_patience_epochs_without_improvement(gan_task) -> None:  # type: ignore[no-untyped-def]
    model = GanForecaster(tiny_gan(epochs=30, early_stopping_patience=1, lr_g=1e-9, lr_d=1e-9))
    model.fit(gan_task)
    assert model.epoch < 30
    assert model.epoch - (model.best_epoch or 0) == 1
