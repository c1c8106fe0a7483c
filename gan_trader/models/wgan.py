"""GanForecaster: the user-facing conditional WGAN (data, fitting loop, checkpoints, MH-selected forecasts).

`GanTrainer` holds the two networks, their optimisers and one training step; the benchmark times exactly that
step. `GanForecaster` cuts windows with `WindowMaker` (scalers fitted on the training span), trains with early
stopping on validation error, calibrates the critic on validation windows and forecasts by
Metropolis-Hastings selection among K generator samples.

Losses (gan.loss):
- `wgan-gp` (default): critic E[D(fake)] - E[D(real)] + gp_weight * E[(||grad D(x_hat)|| - 1)^2] with one
  U(0, 1) interpolation weight per sample; generator -E[D(fake)] + l1_weight * L1(fake, real).
- `wgan-clip`: the same without the penalty, critic weights clipped to [-clip_value, clip_value].
- `gan`: BCE on critic logits (non-saturating generator loss) + l1_weight * L1.
- `l1`: the generator alone trained on L1 (no critic): the ablation baseline; forecasts without MH.

Per-epoch metrics (callback.on_epoch and `history`): train/loss_d, train/wasserstein (mean D(real) - D(fake)),
train/gp (wgan-gp only), train/loss_g, train/l1, train/lr (generator rate, schedule applied), train/lr_d, and
the validation scores of gan.val_samples draws per window (`scoring.validation_scores`): val/crps and
val/crps_rel of the draws, and forecast_metrics of their mean as val/mae, val/rmse, val/mase,
val/directional_accuracy, val/price_*. Early stopping and the kept epoch minimise gan.early_stopping_metric
(default val/crps_rel). Keys of parts a loss lacks (the critic's under `l1`) are absent.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from gan_trader.errors import ConfigError, EpisodeFailed, TrainingError
from gan_trader.io import atomic_path
from gan_trader.models import critic_grad
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.critic import Critic, series_with_next
from gan_trader.models.devices import (
    autocast,
    resolve_device,
    rng_state,
    seeded_global_rng,
    set_rng_state,
)
from gan_trader.models.generator import Generator
from gan_trader.models.mh import CriticCalibrator, mh_select
from gan_trader.models.scoring import validation_scores
from gan_trader.models.windows import WindowMaker, WindowSet

if TYPE_CHECKING:  # validated configs come from the caller; only `load` validates one (pydantic)
    from gan_trader.config import GanConfig, ScheduleConfig

CHECKPOINT_FORMAT = 1
# Windows per forward pass when sampling K candidates for many origins (bounds the LSTM's gate buffers).
SAMPLE_CHUNK = 2048
# Generated samples per validation window when calibrating the critic.
CALIBRATION_SAMPLES = 4


class TrainingCallback(Protocol):
    """What the caller (tracking, progress bars) receives while a GAN trains."""

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def on_figure(self, name: str, figure: Any) -> None:
        """`figure` is a matplotlib Figure (Agg); save or log it during the call."""

    def on_checkpoint(self, path: Path) -> None: ...


class NullCallback:
    """A callback that ignores everything (the default)."""

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def on_figure(self, name: str, figure: Any) -> None:
        pass

    def on_checkpoint(self, path: Path) -> None:
        pass


def triangular_multiplier(iteration: int, schedule: ScheduleConfig) -> float:
    """Cyclical learning-rate multiplier: low at the start of each period, high in its middle (Smith 2017).

    The original applied 0.5..2 as the rate itself; here it multiplies the configured base rate.
    """
    if schedule.kind == "none":
        return 1.0
    phase = (iteration % schedule.period) / schedule.period
    distance = 1.0 - abs(2.0 * phase - 1.0)  # 0 at the period's ends, 1 in its middle
    return schedule.low + (schedule.high - schedule.low) * distance


@dataclass
class Batch:
    """One batch of windows on the training device."""

    window: torch.Tensor  # (B, T, F)
    history: torch.Tensor  # (B, T)
    target: torch.Tensor  # (B,)


def to_batch(windows: WindowSet, device: torch.device) -> Batch:
    return Batch(
        torch.as_tensor(windows.x, device=device),
        torch.as_tensor(windows.history, device=device),
        torch.as_tensor(windows.y, device=device),
    )


def _adam(module: torch.nn.Module, lr: float, config: GanConfig) -> torch.optim.Adam:
    """Adam with the fused kernel (one pass per tensor instead of a dozen small ops) where torch has it."""
    params = list(module.parameters())
    try:
        return torch.optim.Adam(
            params, lr=lr, betas=config.betas, weight_decay=config.weight_decay, fused=True
        )
    except RuntimeError:  # torch < 2.4 has no fused Adam on CPU
        return torch.optim.Adam(params, lr=lr, betas=config.betas, weight_decay=config.weight_decay)


class GanTrainer:
    """Generator, critic, their optimisers and the training step shared by GanForecaster and the benchmark."""

    def __init__(self, config: GanConfig, n_features: int, seq_len: int, device: torch.device) -> None:
        self.config = config
        self.device = device
        gen_cfg = config.generator
        self.generator = Generator(
            n_features, gen_cfg.hidden, gen_cfg.layers, gen_cfg.noise_dim, gen_cfg.dropout
        )
        try:
            self.critic = Critic(config.critic, seq_len, n_features)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.generator.to(device)
        self.critic.to(device)
        self.uses_critic = config.loss != "l1"
        self.opt_g = _adam(self.generator, config.lr_g, config)
        self.opt_d = _adam(self.critic, config.lr_d, config)
        self.iteration = 0
        self.noise = torch.Generator(device=device)

    # ------------------------------------------------------------------ one step

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One batch: a critic update, and a generator update every n_critic-th batch; detached losses.

        When both update, the generator's forward pass with gradients is made once and the critic reads its
        detached output (the generator's weights do not change in between).
        """
        config = self.config
        update_generator = not self.uses_critic or (self.iteration + 1) % config.n_critic == 0
        multiplier = triangular_multiplier(self.iteration, config.schedule)
        for group in self.opt_g.param_groups:
            group["lr"] = config.lr_g * multiplier
        for group in self.opt_d.param_groups:
            group["lr"] = config.lr_d * multiplier
        stats: dict[str, torch.Tensor] = {}
        size = batch.target.shape[0]
        z = torch.randn(size, self.generator.noise_dim, generator=self.noise, device=self.device)
        with autocast(self.device, config.bf16):
            if update_generator:
                fake = self.generator(batch.window, z)
            else:
                with torch.no_grad():
                    fake = self.generator(batch.window, z)
            if self.uses_critic:
                stats.update(self._critic_step(batch, fake.detach()))
            if update_generator:
                stats.update(self._generator_step(batch, fake))
        self.iteration += 1
        return stats

    def _critic_step(self, batch: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        config = self.config
        size = fake.shape[0]
        real_series = series_with_next(batch.history, batch.target)
        fake_series = series_with_next(batch.history, fake.to(real_series.dtype))
        stats: dict[str, torch.Tensor] = {}
        hat = None
        if config.loss == "wgan-gp":
            # One interpolation weight per sample; the history is shared, so only the next value differs.
            weight = torch.rand(size, 1, generator=self.noise, device=self.device)
            hat = weight * real_series + (1.0 - weight) * fake_series
        if hat is not None and self._hand_gradients():
            update = critic_grad.critic_update(
                self.critic, batch.window, real_series, fake_series, hat, config.gp_weight
            )
            loss = update.loss.float()
            stats["train/wasserstein"], stats["train/gp"] = update.wasserstein.float(), update.penalty.float()
        else:
            loss = self._critic_loss(batch, real_series, fake_series, hat, stats)
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), config.grad_clip)
        self.opt_d.step()
        if config.loss == "wgan-clip":
            with torch.no_grad():
                for parameter in self.critic.parameters():
                    parameter.clamp_(-config.clip_value, config.clip_value)
        stats["train/loss_d"] = loss.detach()
        return stats

    def _critic_loss(
        self,
        batch: Batch,
        real_series: torch.Tensor,
        fake_series: torch.Tensor,
        hat: torch.Tensor | None,
        stats: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """The critic's loss through autograd (every loss and layout; `critic_grad` covers WGAN-GP's)."""
        config = self.config
        size = real_series.shape[0]
        # The features' share of the first convolution and the banded convolutions, once for every call.
        inputs = self.critic.prepare(batch.window)
        # Real and fake samples go through the critic as one batch: fewer, larger ops.
        scores = self.critic(torch.cat([real_series, fake_series]), inputs).float()
        d_real, d_fake = scores[:size], scores[size:]
        stats["train/wasserstein"] = (d_real.mean() - d_fake.mean()).detach()
        if config.loss == "gan":
            return F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + (
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            )
        loss = d_fake.mean() - d_real.mean()
        if hat is not None:
            # The interpolated series get a critic call of their own, so that the penalty's input gradient
            # and its double backward run over these B rows only.
            hat = hat.requires_grad_(True)
            (grad,) = torch.autograd.grad(self.critic(hat, inputs).float().sum(), hat, create_graph=True)
            penalty = ((grad.float().norm(2, dim=1) - 1.0) ** 2).mean()
            stats["train/gp"] = penalty.detach()
            loss = loss + config.gp_weight * penalty
        return loss

    def _hand_gradients(self) -> bool:
        """Whether the critic's gradients come from `critic_grad` (float32 or float64, no bf16 autocast)."""
        return critic_grad.supports(self.critic) and not (self.config.bf16 and self.device.type == "cuda")

    def _generator_step(self, batch: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        config = self.config
        l1 = (fake.float() - batch.target).abs().mean()
        if self.uses_critic:
            series = series_with_next(batch.history, fake.to(batch.history.dtype))
            if self._hand_gradients():
                score = critic_grad.frozen_scores(self.critic, batch.window, series)
            else:
                # The critic's own gradients are not needed here: freezing it skips their computation.
                self.critic.requires_grad_(False)
                try:
                    score = self.critic(series, self.critic.prepare(batch.window))
                finally:
                    self.critic.requires_grad_(True)
            score = score.float()
            if config.loss == "gan":
                adversarial = F.binary_cross_entropy_with_logits(score, torch.ones_like(score))
            else:
                adversarial = -score.mean()
            loss = adversarial + config.l1_weight * l1
        else:
            loss = l1
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.generator.parameters(), config.grad_clip)
        self.opt_g.step()
        return {"train/loss_g": loss.detach(), "train/l1": l1.detach()}

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(self, window: torch.Tensor, samples: int, noise: torch.Generator) -> torch.Tensor:
        """`samples` generator draws per window (eval mode): (N, samples) scaled targets."""
        self.generator.eval()
        n = window.shape[0]
        out = torch.empty(n, samples, device=self.device)
        per_chunk = max(SAMPLE_CHUNK // samples, 1)
        for start in range(0, n, per_chunk):
            part = window[start : start + per_chunk]
            repeated = part.repeat_interleave(samples, dim=0)
            z = torch.randn(repeated.shape[0], self.generator.noise_dim, generator=noise, device=self.device)
            with autocast(self.device, self.config.bf16):
                out[start : start + len(part)] = self.generator(repeated, z).float().view(len(part), samples)
        self.generator.train()
        return out

    @torch.no_grad()
    def score(self, window: torch.Tensor, history: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Raw critic scores of candidate next values (N, K) for windows (N, ...), in eval mode."""
        self.critic.eval()
        n, k = values.shape
        out = torch.empty(n, k, device=self.device)
        per_chunk = max(SAMPLE_CHUNK // k, 1)
        for start in range(0, n, per_chunk):
            stop = min(start + per_chunk, n)
            rows = stop - start
            hist = history[start:stop].repeat_interleave(k, dim=0)
            series = series_with_next(hist, values[start:stop].reshape(-1))
            with autocast(self.device, self.config.bf16):
                inputs = self.critic.prepare(window[start:stop]).repeated(k)
                out[start:stop] = self.critic(series, inputs).float().view(rows, k)
        self.critic.train()
        return out

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "iteration": self.iteration,
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.iteration = int(state["iteration"])
        self.noise.set_state(state["noise"])


def _validation_figure(title: str, dates: pd.DatetimeIndex, actual: np.ndarray, predicted: np.ndarray) -> Any:
    """Predicted vs real closes on the validation days (a Figure on the Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(dates, actual, label="real", color="black", linewidth=1.0)
    axes.plot(dates, predicted, label="predicted", color="tab:orange", linewidth=1.0)
    axes.set_title(title)
    axes.set_ylabel("close")
    axes.legend()
    figure.autofmt_xdate()
    return figure


class GanForecaster(Forecaster):
    """Conditional WGAN forecaster: LSTM generator, CNN critic, MH selection of the forecast.

    :param config: the `gan` section of the experiment config.
    :param scaler: feature scaler (features.scaler), fitted on the training span by WindowMaker.
    :param callback: receives per-epoch metrics, figures and checkpoint paths.
    :param checkpoint_dir: where best.pt / last.pt / model.pt go (None: no files).
    :param seed: overrides task.seed when given (kept as `seed_override`; the seed in effect for a fit is
        `training_seed`).
    """

    name = "gan"

    def __init__(
        self,
        config: GanConfig,
        scaler: str = "standard",
        callback: TrainingCallback | None = None,
        checkpoint_dir: str | Path | None = None,
        seed: int | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.scaler = scaler
        self.callback: TrainingCallback = callback or NullCallback()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.seed_override = seed
        self.model_name = name or ("gan_l1" if config.loss == "l1" else "gan")
        self.device = resolve_device(config.device)
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.best_score = math.inf
        self.best_checkpoint: Path | None = None
        self.last_checkpoint: Path | None = None
        self.model_checkpoint: Path | None = None
        self.trainer: GanTrainer | None = None
        self.maker: WindowMaker | None = None
        self.calibrator: CriticCalibrator | None = None
        self.epoch = 0
        self._epochs_since_best = 0
        self._best_state: dict[str, Any] | None = None
        # The base of every random stream of the current fit: seed_override or the task's seed.
        self.training_seed = 0

    # ------------------------------------------------------------------ fitting

    def _resolve_seed(self, task: ForecastTask) -> int:
        return self.seed_override if self.seed_override is not None else task.seed

    def _setup(self, task: ForecastTask) -> None:
        self.training_seed = self._resolve_seed(task)
        self.maker = WindowMaker(task, self.scaler)
        n_features = self.maker.scaled.shape[1]
        self.trainer = GanTrainer(self.config, n_features, self.maker.seq_len, self.device)
        self.trainer.noise.manual_seed(self.training_seed)

    def fit(
        self, task: ForecastTask, resume_from: str | Path | None = None, epochs: int | None = None
    ) -> GanForecaster:
        """Train on the task's training windows with early stopping on validation MAE, then calibrate MH.

        :param resume_from: a checkpoint (best.pt / last.pt) to continue from: weights, optimisers, RNG state,
            history and best-so-far are restored; the early-stopping patience starts afresh.
        :param epochs: epochs to train in this call (default: up to gan.epochs in total).
        """
        with seeded_global_rng(self._resolve_seed(task), self.device):
            self._setup(task)
            if resume_from is not None:
                self._restore(Path(resume_from))
            remaining = epochs if epochs is not None else max(self.config.epochs - self.epoch, 0)
            self._train(task, remaining)
            if self._best_state is not None:
                assert self.trainer is not None
                self.trainer.generator.load_state_dict(self._best_state["generator"])
                self.trainer.critic.load_state_dict(self._best_state["critic"])
            self._calibrate()
            if self.checkpoint_dir is not None:
                self.model_checkpoint = self._save(self.checkpoint_dir / "model.pt")
        return self

    def _train(self, task: ForecastTask, epochs: int) -> None:
        assert self.maker is not None and self.trainer is not None
        train, val, _ = self.maker.split_windows()
        if len(train) < 2 or len(val) < 1:
            raise TrainingError(
                f"gan: {len(train)} training and {len(val)} validation windows of "
                f"seq_len {self.maker.seq_len}; "
                "need at least 2 and 1 (lengthen the data or shorten gan.seq_len)"
            )
        for name, array in (("training", train), ("validation", val)):
            for field in ("x", "history", "y"):
                values = getattr(array, field)
                if not np.isfinite(values).all():
                    raise EpisodeFailed(f"non-finite {name} inputs ({field}) before training")
        train_batch = to_batch(train, self.device)
        val_batch = to_batch(val, self.device)
        patience = self.config.early_stopping_patience
        last_epoch = self.epoch + epochs
        last_prediction: tuple[int, Forecast] | None = None
        for _ in range(epochs):
            self.epoch += 1
            metrics = self._train_epoch(train_batch)
            forecast = self._validation_forecast(task, val, val_batch)
            metrics.update(validation_scores(task, forecast, prefix="val/"))
            metrics["epoch"] = float(self.epoch)
            self.history.append(metrics)
            self.callback.on_epoch(self.epoch, metrics)
            last_prediction = (self.epoch, forecast)
            if self.epoch in self.config.plot_epochs:
                self._figure(task, forecast, self.epoch)
            score = metrics[self.config.early_stopping_metric]
            improved = score < self.best_score
            if improved:
                self.best_score, self.best_epoch, self._epochs_since_best = score, self.epoch, 0
                self._best_state = {
                    "generator": copy.deepcopy(self.trainer.generator.state_dict()),
                    "critic": copy.deepcopy(self.trainer.critic.state_dict()),
                }
                if self.checkpoint_dir is not None:
                    self.best_checkpoint = self._save(self.checkpoint_dir / "best.pt")
            else:
                self._epochs_since_best += 1
            stop = patience is not None and self._epochs_since_best >= patience
            every = self.config.checkpoint_every
            if self.checkpoint_dir is not None and (
                stop or self.epoch == last_epoch or (every and self.epoch % every == 0)
            ):
                self.last_checkpoint = self._save(self.checkpoint_dir / "last.pt")
            if stop:
                break
        if last_prediction is not None and last_prediction[0] not in self.config.plot_epochs:
            self._figure(task, last_prediction[1], last_prediction[0], last=True)

    def _train_epoch(self, train: Batch) -> dict[str, float]:
        assert self.trainer is not None
        n = train.target.shape[0]
        order = torch.randperm(n, generator=self.trainer.noise, device=self.device)
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        size = self.config.batch_size
        for start in range(0, n, size):
            index = order[start : start + size]
            if len(index) < 2:
                continue
            stats = self.trainer.step(Batch(train.window[index], train.history[index], train.target[index]))
            for key, value in stats.items():
                sums[key] = sums[key] + value if key in sums else value
                counts[key] = counts.get(key, 0) + 1
        metrics = {key: float(total) / counts[key] for key, total in sums.items()}
        for key, mean in metrics.items():
            if not math.isfinite(mean):
                raise EpisodeFailed(f"epoch {self.epoch}: {key} is not finite ({mean})")
        metrics["train/lr"] = self.config.lr_g * triangular_multiplier(
            self.trainer.iteration, self.config.schedule
        )
        if self.trainer.uses_critic:
            metrics["train/lr_d"] = self.config.lr_d * triangular_multiplier(
                self.trainer.iteration, self.config.schedule
            )
        return metrics

    def _validation_noise(self) -> torch.Generator:
        # The same draws at every epoch: epoch-to-epoch changes in val error come from the weights, not z.
        noise = torch.Generator(device=self.device)
        noise.manual_seed(self.training_seed + 1)
        return noise

    def _validation_forecast(self, task: ForecastTask, windows: WindowSet, batch: Batch) -> Forecast:
        """gan.val_samples generator draws per window (the same noise every epoch) and their mean."""
        assert self.trainer is not None and self.maker is not None
        draws = self.trainer.sample(batch.window, self.config.val_samples, self._validation_noise())
        if not torch.isfinite(draws).all():
            raise EpisodeFailed(f"epoch {self.epoch}: the generator produced non-finite values")
        values = self.maker.target_scaler.unscale(draws.cpu().numpy())
        return self._forecast(task, windows.origins, values.mean(axis=1), values)

    def _forecast(
        self, task: ForecastTask, origins: pd.DatetimeIndex, point: np.ndarray, samples: np.ndarray | None
    ) -> Forecast:
        """Unscaled point values (and samples) -> Forecast; samples are returned as log returns."""
        if task.target_kind == "log_return":
            return Forecast.from_returns(self.model_name, task, origins, point, samples)
        if samples is not None:
            anchor = task.close.loc[origins].to_numpy()[:, None]
            samples = np.log(np.maximum(samples, 1e-12) / anchor)
        return Forecast.from_prices(self.model_name, task, origins, point, samples)

    def _figure(self, task: ForecastTask, forecast: Forecast, epoch: int, last: bool = False) -> None:
        actual = task.close.loc[forecast.target_dates].to_numpy()
        label = f"epoch {epoch}" + (" (last)" if last else "")
        figure = _validation_figure(
            f"validation: predicted vs real, {label}", forecast.target_dates, actual, forecast.price
        )
        self.callback.on_figure(f"val_predicted_epoch_{epoch:03d}" + ("_last" if last else ""), figure)

    # ------------------------------------------------------------------ MH

    def _calibrate(self) -> None:
        """Fit the isotonic critic calibration on validation windows only (real = 1, generated = 0)."""
        assert self.trainer is not None and self.maker is not None
        self.calibrator = None
        if not (self.config.mh.enabled and self.trainer.uses_critic):
            return
        val = to_batch(self.maker.windows(self.maker.task.origins("val")), self.device)
        noise = torch.Generator(device=self.device)
        noise.manual_seed(self.training_seed + 2)
        fakes = self.trainer.sample(val.window, CALIBRATION_SAMPLES, noise)
        real_scores = self.trainer.score(val.window, val.history, val.target[:, None])
        fake_scores = self.trainer.score(val.window, val.history, fakes)
        self.calibrator = CriticCalibrator().fit(real_scores.cpu().numpy(), fake_scores.cpu().numpy())

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        """Forecast day t+1 for each origin: MH-selected sample (samples N x K kept) or the mean of draws."""
        if self.trainer is None or self.maker is None:
            raise RuntimeError("GanForecaster.predict called before fit")
        windows = self.maker.windows(origins)
        batch = to_batch(windows, self.device)
        noise = torch.Generator(device=self.device)
        noise.manual_seed(self.training_seed + 3)
        if self.calibrator is None:
            draws = self.trainer.sample(batch.window, self.config.val_samples, noise)
            point = self.maker.target_scaler.unscale(draws.mean(dim=1).cpu().numpy())
            return self._forecast(task, windows.origins, point, None)
        k = self.config.mh.candidates
        candidates = self.trainer.sample(batch.window, k, noise)
        probability = self.calibrator.predict(
            self.trainer.score(batch.window, batch.history, candidates).cpu().numpy()
        )
        chosen = mh_select(probability, np.random.default_rng(self.training_seed + 4))
        values = self.maker.target_scaler.unscale(candidates.cpu().numpy())
        point = values[np.arange(len(values)), chosen.index]
        forecast = self._forecast(task, windows.origins, point, values)
        assert forecast.samples is not None
        forecast.extra["mh_acceptance"] = chosen.acceptance_rate
        forecast.extra["quantiles"] = {
            q: np.quantile(forecast.samples, q, axis=1) for q in self.config.mh.quantiles
        }
        return forecast

    # ------------------------------------------------------------------ checkpoints

    def _payload(self) -> dict[str, Any]:
        assert self.trainer is not None and self.maker is not None
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.model_dump(mode="json"),
            "columns": list(self.maker.task.features.columns),
            "seed": self.training_seed,
            "epoch": self.epoch,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "best_state": self._best_state,
            "trainer": self.trainer.state_dict(),
            "rng": rng_state(self.device),
            "calibrator": self.calibrator,
        }

    def _save(self, path: Path) -> Path:
        with atomic_path(path) as tmp:
            torch.save(self._payload(), tmp)
        self.callback.on_checkpoint(path)
        return path

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (weights, optimiser and RNG state, calibration) to one file, atomically."""
        return self._save(Path(path))

    def _load_payload(self, path: Path) -> dict[str, Any]:
        if not path.is_file():
            raise TrainingError(f"{path}: checkpoint not found")
        payload: dict[str, Any] = torch.load(path, map_location=self.device, weights_only=False)
        if payload.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{path}: not a gan-trader GAN checkpoint (format {payload.get('format')!r})")
        assert self.maker is not None
        columns = list(self.maker.task.features.columns)
        if payload["columns"] != columns:
            raise TrainingError(f"{path}: checkpoint was trained on other feature columns than this task's")
        return payload

    def _restore(self, path: Path) -> None:
        assert self.trainer is not None
        payload = self._load_payload(path)
        self.trainer.load_state_dict(payload["trainer"])
        self.epoch = int(payload["epoch"])
        self.history = list(payload["history"])
        self.best_epoch = payload["best_epoch"]
        self.best_score = float(payload["best_score"])
        self._best_state = payload["best_state"]
        self._epochs_since_best = 0
        set_rng_state(payload["rng"], self.device)

    @classmethod
    def load(
        cls,
        path: str | Path,
        task: ForecastTask,
        scaler: str = "standard",
        callback: TrainingCallback | None = None,
    ) -> GanForecaster:
        """Rebuild a fitted forecaster from model.pt (or any checkpoint) for `task`, ready to predict."""
        # Imported here, not above, so that training and sampling need torch and numpy alone (no pydantic).
        from gan_trader.config import GanConfig

        raw = torch.load(Path(path), map_location="cpu", weights_only=False) if Path(path).is_file() else None
        if raw is None:
            raise TrainingError(f"{path}: checkpoint not found")
        model = cls(
            GanConfig.model_validate(raw["config"]), scaler=scaler, callback=callback, seed=raw["seed"]
        )
        with seeded_global_rng(raw["seed"], model.device):
            model._setup(task)
            model._restore(Path(path))
            model.calibrator = raw.get("calibrator")
            if model.calibrator is None:
                model._calibrate()
        return model
