"""GanForecaster: the user-facing conditional WGAN (data, fitting loop, checkpoints, MH-selected forecasts).

`GanTrainer` holds the two networks, their optimisers and one training step; the benchmark times exactly that
step. `GanForecaster` cuts windows with `WindowMaker` (scalers fitted on the training span), trains with early
stopping on a probabilistic validation score, calibrates the critic on validation windows and forecasts a
distribution per day: raw generator draws, or the final states of independent Metropolis-Hastings chains.
The point forecast (and trading signal) is the distribution's mean or median (gan.point), never one draw.

Losses (gan.loss), with M = gan.train_samples draws per training window and y its real next value:
- `wgan-gp` (default): critic E[D(fake)] - E[D(real)] + gp_weight * E[(|dD/dy(y_hat)| - 1)^2], y_hat on the
  line between the real and a generated next value of the same window (one U(0, 1) weight per draw);
  generator -E[D(fake)] + score_weight * CRPS(draws, y) (+ l1_weight * L1 of one draw).
- `wgan-clip`: the same without the penalty, critic weights clipped to [-clip_value, clip_value].
- `gan`: BCE on critic logits (non-saturating generator loss) + the same scoring terms.
- `score`: the generator alone trained on CRPS(draws, y), no critic: the ablation of the adversarial part.
- `l1`: the generator alone trained on L1 of one draw (the original's term): the ablation baseline.
Training through autograd throughout, so the critic stays free to change.

Per-epoch metrics (callback.on_epoch and `history`): train/loss_d, train/wasserstein (mean D(real) - D(fake)),
train/gp (wgan-gp only), train/loss_g, train/crps, train/l1, train/lr (generator rate, schedule applied),
train/lr_d, and the validation scores of gan.val_samples draws per window (`scoring.validation_scores`):
val/crps and val/crps_rel of the draws, and forecast_metrics of their mean (or median) as val/mae, val/rmse,
val/relmae, val/directional_accuracy, val/price_*. Early stopping and the kept epoch minimise
gan.early_stopping_metric (default val/crps_rel). Keys of parts a loss lacks (the critic's under `score` and
`l1`) are absent.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from gan_trader.errors import ConfigError, DamagedFileError, EpisodeFailed, OutdatedFileError, TrainingError
from gan_trader.io import CHECKPOINT_FORMAT, atomic_path, describe_version, format_version
from gan_trader.models.base import USES_MH, Forecast, Forecaster, ForecastTask
from gan_trader.models.critic import Critic
from gan_trader.models.devices import (
    autocast,
    resolve_device,
    rng_state,
    seeded_global_rng,
    set_rng_state,
)
from gan_trader.models.generator import Generator
from gan_trader.models.mh import CriticCalibrator, MHCalibration, critic_diagnostics, mh_chains
from gan_trader.models.scoring import crps_fair, validation_scores
from gan_trader.models.windows import WindowMaker, WindowSet

if TYPE_CHECKING:  # validated configs come from the caller; only `load` validates one (pydantic)
    from gan_trader.config import GanConfig, ScheduleConfig

# Windows per forward pass when sampling K candidates for many origins (bounds the LSTM's gate buffers).
SAMPLE_CHUNK = 2048
# Draws per pass of the generator's head or the critic's (bounds their (draws x units) activations).
DRAW_CHUNK = 1 << 18
# Generated samples per validation window when calibrating the critic.
CALIBRATION_SAMPLES = 4


class TrainingCallback(Protocol):
    """What the caller (tracking, progress bars) receives while a GAN trains."""

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """An epoch's metrics; True stops the training after this epoch (a tuner's pruning), as early
        stopping would."""
        ...

    def on_figure(self, name: str, figure: Any) -> None:
        """`figure` is a matplotlib Figure (Agg); save or log it during the call."""

    def on_checkpoint(self, path: Path) -> None: ...


class NullCallback:
    """A callback that ignores everything (the default)."""

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        return None

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

    window: torch.Tensor  # (B, T, F + 1): the features, then the target's scaled history as the last channel
    target: torch.Tensor  # (B,)


def to_batch(windows: WindowSet, device: torch.device) -> Batch:
    window = np.concatenate([windows.x, windows.history[:, :, None]], axis=2)
    return Batch(torch.as_tensor(window, device=device), torch.as_tensor(windows.y, device=device))


def crps_loss(draws: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean fair CRPS of M draws per window (B, M) against the targets (B,): the energy score in one
    dimension, E|X - y| - E|X - X'| / 2 with the unbiased pair term; proper: calibrated draws score best."""
    m = draws.shape[1]
    to_target = (draws - target.unsqueeze(1)).abs().mean(dim=1)
    pairs = (draws.unsqueeze(2) - draws.unsqueeze(1)).abs().sum(dim=(1, 2)) / (m * (m - 1))
    return (to_target - 0.5 * pairs).mean()


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
    """Generator, critic, their optimisers and the training step shared by GanForecaster and the benchmark.

    :param n_features: feature channels of a window; the target's history is one channel more.
    """

    def __init__(
        self,
        config: GanConfig,
        n_features: int,
        seq_len: int,
        device: torch.device,
        columns: list[str] | None = None,
    ) -> None:
        self.config = config
        self.device = device
        gen_cfg = config.generator
        self.scale_index = [i for i, c in enumerate(columns or []) if str(c).startswith(gen_cfg.scale_prefix)]
        self.generator = Generator(
            n_features,
            gen_cfg.hidden,
            gen_cfg.layers,
            gen_cfg.noise_dim,
            gen_cfg.dropout,
            gen_cfg.head,
            gen_cfg.conditioning,
            gen_cfg.form,
            self.scale_index,
        )
        try:
            self.critic = Critic(config.critic, seq_len, n_features)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.generator.to(device)
        self.critic.to(device)
        self.uses_critic = config.loss not in ("score", "l1")
        self.opt_g = _adam(self.generator, config.lr_g, config)
        self.opt_d = _adam(self.critic, config.lr_d, config)
        self.iteration = 0
        self.noise = torch.Generator(device=device)

    # ------------------------------------------------------------------ one step

    def step(
        self, batch: Batch, train_generator: bool = True, critic_loss: str | None = None
    ) -> dict[str, torch.Tensor]:
        """One batch: a critic update, and a generator update every n_critic-th batch; detached losses.

        gan.train_samples draws per window come from one pass of the LSTM; the critic judges all of them and
        the generator's loss scores all of them (adversarially and by their CRPS against the real value).
        :param train_generator: False trains the critic alone (against a fixed generator).
        :param critic_loss: the critic's loss when not gan.loss (`gan`: BCE, `wgan-gp`, `wgan-clip`).
        """
        config = self.config
        update_generator = train_generator and (
            not self.uses_critic or (self.iteration + 1) % config.n_critic == 0
        )
        multiplier = triangular_multiplier(self.iteration, config.schedule)
        for group in self.opt_g.param_groups:
            group["lr"] = config.lr_g * multiplier
        for group in self.opt_d.param_groups:
            group["lr"] = config.lr_d * multiplier
        stats: dict[str, torch.Tensor] = {}
        size = batch.target.shape[0]
        z = torch.randn(
            size, config.train_samples, self.generator.noise_dim, generator=self.noise, device=self.device
        )
        with autocast(self.device, config.bf16):
            with torch.set_grad_enabled(update_generator):
                fake = self.generator(batch.window, z)
            if self.uses_critic:
                stats.update(self._critic_step(batch, fake.detach(), critic_loss or config.loss))
            if update_generator:
                stats.update(self._generator_step(batch, fake))
        self.iteration += 1
        return stats

    def _critic_step(self, batch: Batch, fake: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
        config = self.config
        # The window's encoding is shared by the real, generated and interpolated values.
        encoding = self.critic.encode(batch.window)
        d_real = self.critic.score(encoding, batch.target.to(fake.dtype)).float()
        d_fake = self.critic.score(encoding, fake).float()
        stats = {"train/wasserstein": (d_real.mean() - d_fake.mean()).detach()}
        if kind == "gan":
            loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + (
                F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            )
        else:
            loss = d_fake.mean() - d_real.mean()
        if kind == "wgan-gp":
            # One U(0, 1) weight per generated value, on the line to its window's real value: the penalty
            # constrains dD/dy, the coordinate in which real and generated inputs differ.
            weight = torch.rand(fake.shape, generator=self.noise, device=self.device, dtype=fake.dtype)
            hat = (weight * batch.target.unsqueeze(1).to(fake.dtype) + (1.0 - weight) * fake).requires_grad_()
            (grad,) = torch.autograd.grad(
                self.critic.score(encoding, hat).float().sum(), hat, create_graph=True
            )
            penalty = ((grad.float().abs() - 1.0) ** 2).mean()
            stats["train/gp"] = penalty.detach()
            loss = loss + config.gp_weight * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), config.grad_clip)
        self.opt_d.step()
        if kind == "wgan-clip":
            with torch.no_grad():
                for parameter in self.critic.parameters():
                    parameter.clamp_(-config.clip_value, config.clip_value)
        stats["train/loss_d"] = loss.detach()
        return stats

    def _generator_step(self, batch: Batch, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        config = self.config
        draws = fake.float()
        crps = crps_loss(draws, batch.target)
        l1 = (draws[:, 0] - batch.target).abs().mean()
        if config.loss == "score":
            loss = crps
        elif config.loss == "l1":
            loss = l1
        else:
            # The critic's own gradients are not needed here: freezing it skips their computation.
            self.critic.requires_grad_(False)
            try:
                score = self.critic(batch.window, fake).float()
            finally:
                self.critic.requires_grad_(True)
            if config.loss == "gan":
                adversarial = F.binary_cross_entropy_with_logits(score, torch.ones_like(score))
            else:
                adversarial = -score.mean()
            loss = adversarial + config.score_weight * crps + config.l1_weight * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.generator.parameters(), config.grad_clip)
        self.opt_g.step()
        return {"train/loss_g": loss.detach(), "train/crps": crps.detach(), "train/l1": l1.detach()}

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(self, window: torch.Tensor, samples: int, noise: torch.Generator) -> torch.Tensor:
        """`samples` generator draws per window (eval mode): (N, samples) scaled targets."""
        self.generator.eval()
        n = window.shape[0]
        out = torch.empty(n, samples, device=self.device)
        per_chunk = max(min(SAMPLE_CHUNK, DRAW_CHUNK // samples), 1)
        for start in range(0, n, per_chunk):
            part = window[start : start + per_chunk]
            z = torch.randn(len(part), samples, self.generator.noise_dim, generator=noise, device=self.device)
            with autocast(self.device, self.config.bf16):
                out[start : start + len(part)] = self.generator(part, z).float()
        self.generator.train()
        return out

    @torch.no_grad()
    def score(self, window: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Raw critic scores of candidate next values (N, K) for windows (N, T, F + 1), in eval mode."""
        self.critic.eval()
        n, k = values.shape
        out = torch.empty(n, k, device=self.device)
        per_chunk = max(min(SAMPLE_CHUNK, DRAW_CHUNK // k), 1)
        for start in range(0, n, per_chunk):
            stop = min(start + per_chunk, n)
            with autocast(self.device, self.config.bf16):
                out[start:stop] = self.critic(window[start:stop], values[start:stop]).float()
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


CHECKPOINT_REMEDY = "delete it and train again (for a tuning session: start a new session)"


def read_checkpoint(path: Path, device: str | torch.device) -> dict[str, Any]:
    """A GAN checkpoint's payload; one-line errors naming the file when it is missing, cannot be read back
    (DamagedFileError) or has another format version (OutdatedFileError, io.CHECKPOINT_FORMAT)."""
    if not path.is_file():
        raise TrainingError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # torch and pickle raise many types for a truncated or overwritten file
        raise DamagedFileError(
            f"{path}: damaged GAN checkpoint ({type(exc).__name__}); {CHECKPOINT_REMEDY}"
        ) from None
    if not isinstance(payload, dict) or "trainer" not in payload:
        raise DamagedFileError(f"{path}: not a gan-trader GAN checkpoint; {CHECKPOINT_REMEDY}")
    if format_version(payload) != CHECKPOINT_FORMAT:
        raise OutdatedFileError(
            f"{path}: GAN checkpoint of {describe_version(format_version(payload))}, this gan-trader reads "
            f"version {CHECKPOINT_FORMAT}; {CHECKPOINT_REMEDY}"
        )
    return payload


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
    uses_validation = True

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
        self.model_name = name or ("gan" if config.loss not in ("score", "l1") else f"gan_{config.loss}")
        self.device = resolve_device(config.device)
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.best_score = math.inf
        self.best_checkpoint: Path | None = None
        self.last_checkpoint: Path | None = None
        self.model_checkpoint: Path | None = None
        self.trainer: GanTrainer | None = None
        self.maker: WindowMaker | None = None
        self.calibration: MHCalibration | None = None
        self.location_scale_init: Any = None  # har_t's HarTFit the location-scale head started from
        self.epoch = 0
        self._epochs_since_best = 0
        self._best_state: dict[str, Any] | None = None
        # The base of every random stream of the current fit: seed_override or the task's seed.
        self.training_seed = 0

    # ------------------------------------------------------------------ fitting

    def _resolve_seed(self, task: ForecastTask) -> int:
        return self.seed_override if self.seed_override is not None else task.seed

    def _setup(self, task: ForecastTask, initialise: bool = True) -> None:
        self.training_seed = self._resolve_seed(task)
        self.maker = WindowMaker(task, self.scaler)
        n_features = self.maker.scaled.shape[1]
        self.trainer = GanTrainer(
            self.config, n_features, self.maker.seq_len, self.device, list(self.maker.columns)
        )
        self.trainer.noise.manual_seed(self.training_seed)
        if initialise and self.config.generator.form == "location_scale":
            self._init_location_scale()

    def _init_location_scale(self) -> None:
        """Start the location-scale head from har_t's maximum-likelihood fit on the training windows: the
        scaled next value against the scale features at the origin (scaled as the generator reads them)."""
        from gan_trader.models.baselines.har_t import fit_har_t

        assert self.maker is not None and self.trainer is not None
        train = self.maker.windows(self.maker.task.origins("train"))
        inputs = train.x[:, -1, self.trainer.scale_index]
        fit = fit_har_t(inputs, train.y)
        intercept, slope = fit.raw_coefficients()
        sd_intercept = intercept + 0.5 * float(np.log(fit.nu / (fit.nu - 2.0)))
        self.trainer.generator.init_location_scale(fit.mu, sd_intercept, slope)
        self.location_scale_init = fit

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
            self.calibrate()
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
            asked_to_stop = self.callback.on_epoch(self.epoch, metrics) is True
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
            stop = asked_to_stop or (patience is not None and self._epochs_since_best >= patience)
            every = self.config.checkpoint_every
            if self.checkpoint_dir is not None and (
                stop or self.epoch == last_epoch or (every and self.epoch % every == 0)
            ):
                self.last_checkpoint = self._save(self.checkpoint_dir / "last.pt")
            if stop:
                break
        if last_prediction is not None and last_prediction[0] not in self.config.plot_epochs:
            self._figure(task, last_prediction[1], last_prediction[0], last=True)

    def _train_epoch(
        self, train: Batch, train_generator: bool = True, critic_loss: str | None = None
    ) -> dict[str, float]:
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
            stats = self.trainer.step(
                Batch(train.window[index], train.target[index]), train_generator, critic_loss
            )
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

    def _noise(self, offset: int) -> torch.Generator:
        """A noise stream of its own for each use (offset), seeded from the fit's seed."""
        noise = torch.Generator(device=self.device)
        noise.manual_seed(self.training_seed + offset)
        return noise

    def _validation_forecast(self, task: ForecastTask, windows: WindowSet, batch: Batch) -> Forecast:
        """gan.val_samples generator draws per window; the same noise every epoch, so that epoch-to-epoch
        changes of the validation scores come from the weights, not from z."""
        assert self.trainer is not None and self.maker is not None
        draws = self.trainer.sample(batch.window, self.config.val_samples, self._noise(1))
        if not torch.isfinite(draws).all():
            raise EpisodeFailed(f"epoch {self.epoch}: the generator produced non-finite values")
        values = self.maker.target_scaler.unscale(draws.cpu().numpy())
        return self._distribution(task, windows.origins, values, self.model_name)

    def _distribution(
        self, task: ForecastTask, origins: pd.DatetimeIndex, values: np.ndarray, name: str
    ) -> Forecast:
        """Unscaled draws (N, K) -> a Forecast named `name` whose point is their mean or median (gan.point);
        samples are returned as log returns."""
        point = np.median(values, axis=1) if self.config.point == "median" else values.mean(axis=1)
        if task.target_kind == "log_return":
            forecast = Forecast.from_returns(name, task, origins, point, values)
        else:
            anchor = task.close.loc[origins].to_numpy()[:, None]
            samples = np.log(np.maximum(values, 1e-12) / anchor)
            forecast = Forecast.from_prices(name, task, origins, point, samples)
        assert forecast.samples is not None
        forecast.extra["quantiles"] = {
            q: np.quantile(forecast.samples, q, axis=1) for q in self.config.mh.quantiles
        }
        return forecast

    def _figure(self, task: ForecastTask, forecast: Forecast, epoch: int, last: bool = False) -> None:
        actual = task.close.loc[forecast.target_dates].to_numpy()
        label = f"epoch {epoch}" + (" (last)" if last else "")
        figure = _validation_figure(
            f"validation: predicted vs real, {label}", forecast.target_dates, actual, forecast.price
        )
        self.callback.on_figure(f"val_predicted_epoch_{epoch:03d}" + ("_last" if last else ""), figure)

    # ------------------------------------------------------------------ MH

    def _mh(
        self, batch: Batch, calibrator: CriticCalibrator, seed: int
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """gan.mh.chains independent chains of gan.mh.candidates draws per window: (the chains' first
        candidates, i.e. raw draws, their final states, the acceptance rate); scaled values (N, chains)."""
        assert self.trainer is not None
        mh = self.config.mh
        noise = torch.Generator(device=self.device)
        noise.manual_seed(seed)
        draws = self.trainer.sample(batch.window, mh.chains * mh.candidates, noise)
        probabilities = calibrator.predict(self.trainer.score(batch.window, draws).cpu().numpy())
        candidates = draws.cpu().numpy().reshape(len(draws), mh.chains, mh.candidates)
        states, acceptance = mh_chains(
            candidates, probabilities.reshape(candidates.shape), np.random.default_rng(seed)
        )
        return candidates[:, :, 0], states, acceptance

    def _train_critic(self, epochs: int) -> None:
        """Critic-only epochs on the training windows against the kept (now fixed) generator, on the BCE loss.

        MH needs D = p_data / (p_data + p_g), which the BCE-optimal discriminator is. A WGAN critic is a
        transport potential instead: where it cannot tell real from generated values, the penalty still
        holds its slope in y near 1, and chains selected by it drifted toward one side (on a synthetic task
        with a generator planted too narrow, the mean of MH's samples moved by 0.15 sd and its CRPS
        worsened; after BCE epochs MH widened the samples toward the truth and improved the CRPS).
        """
        assert self.maker is not None
        train = to_batch(self.maker.windows(self.maker.task.origins("train")), self.device)
        for _ in range(epochs):
            self._train_epoch(train, train_generator=False, critic_loss="gan")

    def calibrate(self, critic_epochs: int | None = None) -> None:
        """Calibrate the critic for MH on validation windows only (real = 1, generated = 0, isotonic), with
        held-out diagnostics: each half of the windows is judged by a map fitted on the other half. `fit`
        calls it; call it again after changing the generator.

        :param critic_epochs: critic-only epochs against the current generator first (gan.mh.critic_epochs).
        """
        if self.trainer is None or self.maker is None:
            raise RuntimeError("GanForecaster.calibrate called before fit")
        self.calibration = None
        if not (self.config.mh.enabled and self.trainer.uses_critic):
            return
        epochs = self.config.mh.critic_epochs if critic_epochs is None else critic_epochs
        if epochs:
            self._train_critic(epochs)
        val = to_batch(self.maker.windows(self.maker.task.origins("val")), self.device)
        fakes = self.trainer.sample(val.window, CALIBRATION_SAMPLES, self._noise(2))
        real = self.trainer.score(val.window, val.target[:, None])[:, 0].cpu().numpy()
        fake = self.trainer.score(val.window, fakes).cpu().numpy()
        target = val.target.cpu().numpy()
        first = np.arange(len(real)) < len(real) // 2
        held_real, held_fake = np.empty(len(real)), np.empty(len(real))
        crps_raw, crps_mh = np.empty(len(real)), np.empty(len(real))
        for held in (first, ~first):
            calibrator = CriticCalibrator().fit(real[~held], fake[~held])
            # One generated value per window beside each real one: equal class counts.
            held_real[held], held_fake[held] = (
                calibrator.predict(real[held]),
                calibrator.predict(fake[held, 0]),
            )
            index = torch.as_tensor(np.flatnonzero(held), device=self.device)
            raw, states, _ = self._mh(
                Batch(val.window[index], val.target[index]), calibrator, self.training_seed + 5
            )
            crps_raw[held], crps_mh[held] = crps_fair(target[held], raw), crps_fair(target[held], states)
        self.calibration = MHCalibration(
            calibrator=CriticCalibrator().fit(real, fake),
            diagnostics=critic_diagnostics(real, fake[:, 0], held_real, held_fake),
            crps_raw=float(crps_raw.mean()),
            crps_mh=float(crps_mh.mean()),
        )

    def uses_mh(self) -> bool:
        """Whether the `gan` forecast is MH's samples (gan.mh.forecast; auto: MH's held-out CRPS is lower)."""
        calibration, choice = self.calibration, self.config.mh.forecast
        if calibration is None or choice == "raw":
            return False
        return choice == "mh" or calibration.crps_mh < calibration.crps_raw

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        """Forecast day t+1 for each origin: a distribution of gan.mh.chains samples per day and its mean or
        median. With MH, the forecast is MH's or the raw draws (`uses_mh`; `extra["uses_mh"]` says which, and
        only MH's samples carry MH's diagnostics), and `ablations` holds both as `<name>_raw` (the chains'
        first candidates) and `<name>_mh` (their final states), equal in number."""
        if self.trainer is None or self.maker is None:
            raise RuntimeError("GanForecaster.predict called before fit")
        windows = self.maker.for_task(task).windows(origins)
        batch = to_batch(windows, self.device)
        unscale = self.maker.target_scaler.unscale
        if self.calibration is None:
            draws = self.trainer.sample(batch.window, self.config.mh.chains, self._noise(3))
            return self._distribution(task, windows.origins, unscale(draws.cpu().numpy()), self.model_name)
        raw, states, acceptance = self._mh(batch, self.calibration.calibrator, self.training_seed + 3)
        diagnostics = self.calibration.diagnostics
        summary = {
            "mh_acceptance": acceptance,
            "critic_auc": diagnostics.auc,
            "turner_z": diagnostics.turner_z,
            "critic_reliability": diagnostics.reliability,
        }
        raw_forecast = self._distribution(task, windows.origins, unscale(raw), f"{self.model_name}_raw")
        mh_forecast = self._distribution(task, windows.origins, unscale(states), f"{self.model_name}_mh")
        mh_forecast.extra.update(summary)
        # The forecast carries the diagnostics of the samples it is: MH's when it is MH's, none for raw draws.
        chosen = mh_forecast if self.uses_mh() else raw_forecast
        return dataclasses.replace(
            chosen,
            model=self.model_name,
            extra={**chosen.extra, USES_MH: float(chosen is mh_forecast)},
            ablations=[raw_forecast, mh_forecast],
        )

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
            "calibration": self.calibration,
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
        payload = read_checkpoint(path, self.device)
        assert self.maker is not None
        columns = list(self.maker.task.features.columns)
        if payload["columns"] != columns:
            raise TrainingError(f"{path}: checkpoint was trained on other feature columns than this task's")
        return payload

    def _restore(self, path: Path) -> None:
        assert self.trainer is not None
        payload = self._load_payload(path)
        try:
            self.trainer.load_state_dict(payload["trainer"])
        except (KeyError, RuntimeError) as exc:  # the networks' layout changed without a version bump
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OutdatedFileError(
                f"{path}: checkpoint does not fit this gan-trader's networks ({first[:160]}); "
                f"{CHECKPOINT_REMEDY}"
            ) from None
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

        raw = read_checkpoint(Path(path), "cpu")
        model = cls(
            GanConfig.model_validate(raw["config"]), scaler=scaler, callback=callback, seed=raw["seed"]
        )
        with seeded_global_rng(raw["seed"], model.device):
            model._setup(task, initialise=False)
            model._restore(Path(path))
            model.calibration = raw.get("calibration")
            if model.calibration is None:
                model.calibrate()
        return model
