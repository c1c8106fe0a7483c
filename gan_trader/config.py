"""Experiment configs: YAML validated by pydantic, `extends:` inheritance, `--set key.path=value` overrides.

One rule for relative paths: every relative path a config names (`extends:` included, and data, news,
output and store paths) is read from the working directory, so run commands from the repository root and
write paths as seen from there (`extends: experiments/default.yaml`, `prices_dir: my_prices`).
`name` is never inherited: a config without its own `name:` is named after its file, so it cannot write over
another experiment's report, saved policy or MLflow experiment. Unknown keys are rejected; every error names
the file and the key path.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gan_trader.errors import ConfigError

log = logging.getLogger(__name__)

# Deprecated spellings of validation scores, and what they mean now.
DEPRECATED_METRICS = {"val/mase": "val/relmae"}


def _current_metric(value: Any) -> Any:
    """`val/mase` (this project's name, until 0.3, for the MAE relative to persistence's on the same days)
    read as `val/relmae`, with a warning: Hyndman's MASE scales by the training span instead."""
    if isinstance(value, str) and value in DEPRECATED_METRICS:
        log.warning(
            "%r is deprecated: it means %r (MAE / persistence's MAE on the same days); write that instead",
            value,
            DEPRECATED_METRICS[value],
        )
        return DEPRECATED_METRICS[value]
    return value


# Validation scores that early stopping, episode selection and tuning can minimise (lower is better).
ValidationMetric = Annotated[
    Literal["val/crps_rel", "val/crps", "val/mae", "val/rmse", "val/relmae"], BeforeValidator(_current_metric)
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------- data


class AssetFile(StrictModel):
    """One price file. `name` defaults to the file stem; low-frequency series give a release lag."""

    path: Path
    name: str | None = None
    release_lag_days: int = Field(
        0, ge=0, description="days after the stamped date when a value became known"
    )


class DataConfig(StrictModel):
    target: str = "MSFT"
    prices_dir: Path | None = Field(
        Path("data/prices"), description="every *.csv / *.parquet here is an asset"
    )
    files: list[AssetFile] = Field(default_factory=list, description="extra per-asset files")
    long_file: Path | None = Field(None, description="one file with columns date, asset, field, value")
    assets: list[str] | None = Field(None, description="correlated assets to keep (default: all loaded)")
    asset_classes: dict[str, Literal["equity", "commodity", "fx", "rate", "other"]] = Field(
        default_factory=dict,
        description="class of a daily series other than an equity or an equity index (the default); "
        "low-frequency series are macro data by themselves. The market's volatility reads equities only",
    )
    news: Path | None = Field(None, description="CSV or JSONL headlines for the sentiment builder")
    news_timezone: str = "America/New_York"
    max_ffill_days: int = Field(5, ge=0, le=366)
    max_nan_run: int = Field(5, ge=0, description="longest run of missing target cells that may be filled")
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _has_source(self) -> DataConfig:
        if self.prices_dir is None and not self.files and self.long_file is None:
            raise ValueError("no data source: set data.prices_dir, data.files or data.long_file")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"data.start ({self.start}) must be before data.end ({self.end})")
        return self


# ---------------------------------------------------------------- split

SplitPoint = float | dt.date


class WalkForwardConfig(StrictModel):
    folds: int = Field(0, ge=0, le=50, description="0 = a single chronological split")
    test_days: int | None = Field(None, gt=0, description="days per test fold (default: equal folds)")


class SplitConfig(StrictModel):
    """Split points are fractions of the aligned rows or dates; train < val < (test end)."""

    train_end: SplitPoint = 0.70
    val_end: SplitPoint = 0.85
    walk_forward: WalkForwardConfig = Field(default_factory=WalkForwardConfig)

    @field_validator("train_end", "val_end")
    @classmethod
    def _fraction_range(cls, value: SplitPoint) -> SplitPoint:
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError(f"a fraction must lie strictly between 0 and 1, got {value}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SplitConfig:
        a, b = self.train_end, self.val_end
        if type(a) is not type(b):
            raise ValueError("train_end and val_end must both be fractions or both be dates")
        if a >= b:  # type: ignore[operator]
            raise ValueError(f"train_end ({a}) must come before val_end ({b})")
        return self


# ---------------------------------------------------------------- features


def _default_builders() -> dict[str, dict[str, Any] | None]:
    return {"technical": {}}


class FeaturesConfig(StrictModel):
    """`builders` maps a registered builder name to its parameters (validated by the builder itself)."""

    builders: dict[str, dict[str, Any] | None] = Field(default_factory=_default_builders)
    target_close: bool = Field(
        False,
        description="feed the target's own close (a price level) to the models as a feature; the target's "
        "history always reaches the GAN as its returns",
    )
    cache_dir: Path | None = Path("runs/cache/features")
    scaler: Literal["standard", "robust", "minmax", "none"] = "standard"


# ---------------------------------------------------------------- GAN


class GeneratorConfig(StrictModel):
    """LSTM generator G(window, z); the original: 1 layer of 500 units, Xavier init, no noise."""

    hidden: int = Field(64, gt=0)
    layers: int = Field(1, gt=0, le=8)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    noise_dim: int = Field(8, ge=1, description="noise vector z, read by the head beside the LSTM's encoding")
    head: int = Field(64, gt=0, description="units of the head that maps (encoding, z) to the next value")
    conditioning: bool = Field(True, description="read the window's features beside the target's history")
    form: Literal["free", "location_scale"] = Field(
        "free",
        description="free: the head maps (encoding, z) to a draw; location_scale: draw = m + s * h(z), log s "
        "linear in the scale features at the origin (and the encoding), started from har_t's fit, h "
        "standardised over the window's draws",
    )
    scale_prefix: str = Field(
        "volatility.", description="location_scale: the feature columns log s reads (by name prefix)"
    )


class CriticConfig(StrictModel):
    """1-D CNN critic: convolutions over the window (seq_len steps), the next value read by the dense head."""

    filters: list[int] = Field(default_factory=lambda: [32, 64, 128], min_length=1)
    kernel_size: int = Field(5, gt=0)
    strides: int = Field(2, gt=0)
    padding: int | Literal["same"] = Field(2, description="zeros on each side of every conv layer, or 'same'")
    grow_padding: bool = Field(
        True, description="pad a layer further when its input is shorter than the kernel (else: an error)"
    )
    lrelu_alpha: float = Field(0.01, ge=0.0, lt=1.0)
    dense: list[int] = Field(
        default_factory=lambda: [220, 220],
        min_length=1,
        description="dense layers after the convolutions; the next value enters the first beside the window",
    )
    norm: Literal["none", "layer", "batch"] = Field(
        "none",
        description="layer: per-sample normalisation, which also removes the window's scale (its volatility, "
        "what the critic must judge the next value against); batch only without the gradient penalty",
    )
    batchnorm_momentum: float = Field(
        0.9, gt=0.0, lt=1.0, description="Keras/MXNet convention: weight of the running average"
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    conditioning: bool = Field(True, description="feed the window's features as extra channels")

    @field_validator("padding")
    @classmethod
    def _padding(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"padding must be >= 0 or 'same', got {value}")
        return value

    def layer_geometry(self, steps: int) -> list[tuple[int, int, int]]:
        """(left pad, right pad, output length) of each conv layer on an input of `steps` steps.

        Raises ValueError naming gan.critic.* when a layer cannot produce one output step.
        """
        geometry = []
        length = steps
        for layer in range(1, len(self.filters) + 1):
            k, s = self.kernel_size, self.strides
            if self.padding == "same":
                out = -(-length // s)
                total = max((out - 1) * s + k - length, 0)
                left, right = total // 2, total - total // 2
            else:
                left = right = int(self.padding)
                short = k - (length + left + right)
                if short > 0:
                    if not self.grow_padding:
                        raise ValueError(
                            f"gan.critic: conv layer {layer} of {len(self.filters)} gets {length} steps "
                            f"(from seq_len = {steps}), fewer than kernel_size {k} with padding "
                            f"{self.padding}; raise gan.critic.padding, lower gan.critic.kernel_size or "
                            "gan.critic.strides, use fewer gan.critic.filters, or set gan.critic.grow_padding"
                        )
                    left, right = left + short // 2, right + short - short // 2
                out = (length + left + right - k) // s + 1
            geometry.append((left, right, out))
            length = out
        return geometry


class ScheduleConfig(StrictModel):
    """Triangular cyclical multiplier of the base learning rate (the original: 0.5..2 over 500 iterations)."""

    kind: Literal["none", "triangular"] = "triangular"
    low: float = Field(0.5, gt=0.0)
    high: float = Field(2.0, gt=0.0)
    period: int = Field(500, gt=1)


class MHConfig(StrictModel):
    """Metropolis-Hastings selection (Turner et al. 2019): independent chains of generator candidates per day,
    accepted by the critic calibrated on validation windows; the chains' final states are the distribution."""

    chains: int = Field(
        200, ge=2, description="independent chains per day: the MH distribution has this many samples"
    )
    candidates: int = Field(10, ge=2, description="candidates per chain (the first is its starting state)")
    critic_epochs: int = Field(
        5,
        ge=0,
        description="critic-only epochs on the BCE loss against the kept generator before calibration: MH "
        "needs a discriminator (D = p_data / (p_data + p_g)), not a WGAN transport potential",
    )
    forecast: Literal["auto", "mh", "raw"] = Field(
        "auto",
        description="which samples the `gan` forecast is: MH's, raw draws, or auto (the lower CRPS on "
        "validation windows the calibration did not see)",
    )
    quantiles: list[float] = Field(default_factory=lambda: [0.05, 0.25, 0.5, 0.75, 0.95])
    enabled: bool = True

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, value: list[float]) -> list[float]:
        bad = [q for q in value if not 0.0 < q < 1.0]
        if bad:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {bad[0]}")
        return sorted(value)


class GanConfig(StrictModel):
    target: Literal["log_return", "price"] = "log_return"
    seq_len: int = Field(17, ge=2)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=2)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    critic: CriticConfig = Field(default_factory=CriticConfig)
    loss: Literal["wgan-gp", "wgan-clip", "gan", "score", "l1"] = Field(
        "wgan-gp",
        description="gan = BCE; score = the generator trained on the CRPS term alone, no critic; l1 = the "
        "generator trained on L1 alone, no critic (the original's term); score and l1 are ablations",
    )
    n_critic: int = Field(
        1, ge=1, description="critic updates per generator update (5 left the generator too few updates)"
    )
    gp_weight: float = Field(10.0, ge=0.0)
    clip_value: float = Field(0.01, gt=0.0)
    score_weight: float = Field(
        10.0, ge=0.0, description="weight of the CRPS (energy score) of the draws beside the adversarial loss"
    )
    l1_weight: float = Field(0.0, ge=0.0, description="weight of L1 of one draw (the original's term)")
    train_samples: int = Field(
        4, ge=2, description="generator draws per training window: the CRPS term and the critic's fakes"
    )
    lr_g: float = Field(1e-3, gt=0.0)
    lr_d: float = Field(1e-3, gt=0.0)
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = Field(0.0, ge=0.0)
    grad_clip: float | None = Field(1.0, gt=0.0)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    early_stopping_patience: int | None = Field(10, ge=1)
    early_stopping_metric: ValidationMetric = Field(
        "val/crps_rel",
        description="validation score that early stopping and the kept (best) epoch minimise; val/crps_rel "
        "is the CRPS of the val_samples draws / the trailing-60-day Gaussian's on the same days",
    )
    checkpoint_every: int = Field(0, ge=0, description="epochs between checkpoints (0: best only)")
    mh: MHConfig = Field(default_factory=MHConfig)
    point: Literal["mean", "median"] = Field(
        "mean", description="the point forecast (and trading signal) from the forecast distribution"
    )
    device: str = "auto"
    bf16: bool = False
    plot_epochs: list[int] = Field(default_factory=lambda: [1, 50])
    val_samples: int = Field(
        32,
        ge=2,
        description="generator draws per validation window each epoch: their spread gives val/crps and "
        "val/crps_rel, their mean or median (gan.point) the point scores",
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {value!r}")

    @model_validator(mode="after")
    def _critic_fits(self) -> GanConfig:
        if self.critic.norm == "batch" and self.loss == "wgan-gp":
            raise ValueError(
                "gan.critic.norm: batch norm cannot be used with gan.loss 'wgan-gp' (the gradient penalty is "
                "per sample and batch statistics mix samples); use norm 'layer' or 'none', or loss 'gan' or "
                "'wgan-clip'"
            )
        self.critic.layer_geometry(self.seq_len)
        return self


# ---------------------------------------------------------------- tuning


class ParamSpec(StrictModel):
    type: Literal["int", "float", "log_float", "categorical"]
    low: float | None = None
    high: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter needs 'low' and 'high'")
        if self.low >= self.high:
            raise ValueError(f"empty or inverted range: low ({self.low}) must be below high ({self.high})")
        if self.type == "log_float" and self.low <= 0:
            raise ValueError(f"a log_float range must be positive, got low={self.low}")
        return self


def _default_space() -> dict[str, ParamSpec]:
    """The original's nine less batchnorm_momentum (a no-op under the default LayerNorm critic), plus the
    knobs that matter for this GAN: the generator's learning rate, critic steps per generator step, the
    weight of the scoring rule (CRPS) beside the adversarial loss, and the noise dimension."""
    return {
        "batch_size": ParamSpec(type="int", low=16, high=128),
        "cnn_lr": ParamSpec(type="log_float", low=1e-5, high=1e-2),
        "strides": ParamSpec(type="int", low=1, high=3),
        "lrelu_alpha": ParamSpec(type="float", low=0.001, high=0.3),
        "padding": ParamSpec(type="int", low=1, high=3),
        "kernel_size": ParamSpec(type="int", low=2, high=5),
        "dropout": ParamSpec(type="float", low=0.0, high=0.5),
        "filters": ParamSpec(type="int", low=16, high=64),
        "lr_g": ParamSpec(type="log_float", low=1e-5, high=1e-2),
        "n_critic": ParamSpec(type="int", low=1, high=5),
        "score_weight": ParamSpec(type="log_float", low=0.1, high=10.0),
        "noise_dim": ParamSpec(type="int", low=1, high=16),
    }


class AgentConfig(StrictModel):
    algo: Literal["ppo", "dqn", "qrdqn"] = "ppo"
    policy_path: Path | None = Field(
        None,
        description="saved policy to reuse and update (default: <runs_dir>/policies/<experiment>-<hash of "
        "tuning.space and tuning.allow_stop>-<algo>.zip)",
    )
    update_epochs: int = Field(
        10,
        ge=0,
        description="passes over an rl session's own transitions when the saved policy is updated after it "
        "(0: the policy is not updated)",
    )
    train_steps: int = Field(256, ge=0, description="proxy-mode steps to pre-train a missing policy")
    proxy_seconds: float = Field(
        60.0,
        ge=0.0,
        description="wall-clock bound of proxy pre-training (it stops at the step that crosses it)",
    )
    proxy_epochs: int = Field(2, ge=1)
    proxy_rows: int = Field(400, ge=60, description="rows of the task's recent history the proxy trains on")
    proxy_episodes: int = Field(6, ge=2, description="episodes (env steps) per proxy session")
    proxy_hidden: int = Field(16, ge=1, description="generator LSTM width in proxy mode")


class PBTConfig(StrictModel):
    """Ray Tune population-based training, for `pbt` (PopulationBasedTraining) and `pb2` (PB2, its GP-bandit
    variant): `population` trials exploit/explore every `interval` epochs."""

    population: int = Field(2, ge=2)
    interval: int = Field(2, ge=1, description="GAN epochs between PBT decisions (one logged episode each)")
    quantile_fraction: float = Field(0.5, gt=0.0, le=0.5)
    resample_probability: float = Field(
        0.25, ge=0.0, le=1.0, description="pbt only (pb2 picks every new value with its GP)"
    )
    storage_path: str | None = Field(
        None,
        description="where Ray Tune keeps the trials' checkpoints (default: the session folder). A Ray "
        "cluster with other nodes needs one every node reaches: a URI (s3://, gs://, abfs://, hdfs://...) "
        "or a path every node mounts, declared with storage_shared: true",
    )
    storage_shared: bool = Field(
        False, description="storage_path is a file-system path every Ray node mounts (NFS, Lustre...)"
    )

    @model_validator(mode="after")
    def _shared_needs_a_path(self) -> PBTConfig:
        if self.storage_shared and not self.storage_path:
            raise ValueError("storage_shared: true needs storage_path (the path every node mounts)")
        return self


class RacingConfig(StrictModel):
    """Before a session selects a set other than the reference (the config's own hyperparameters), the
    reference and the best `candidates` sets of the search are re-trained with `seeds` fresh seeds each and
    compared on their mean validation score: another set is selected only when it beats the reference by
    more than one standard error of the difference. Racing epochs are charged to the session's budget."""

    candidates: int = Field(2, ge=1, description="sets raced against the reference")
    seeds: int = Field(2, ge=2, description="fresh seeds per raced set (two at least: a standard error)")


class OptunaConfig(StrictModel):
    """The `optuna` strategy: Optuna's TPE sampler, pruning trials on their per-epoch validation score."""

    pruner: Literal["median", "hyperband"] = "median"
    startup_trials: int = Field(
        2, ge=0, description="trials sampled at random (TPE) and never pruned (median) before the model acts"
    )
    warmup_epochs: int = Field(1, ge=0, description="epochs of a trial before the median pruner may stop it")


class TuningConfig(StrictModel):
    strategy: Literal["rl", "bo", "random", "pbt", "pb2", "fixed", "optuna"] = "fixed"
    episodes: int = Field(1, ge=1)
    epochs_per_episode: int | None = Field(None, ge=1, description="default: gan.epochs")
    space: dict[str, ParamSpec] = Field(default_factory=_default_space)
    kappa: float = Field(2.5, gt=0.0)
    init_points: int = Field(2, ge=0)
    warm_start: bool = True
    reward: Literal["improvement", "original"] = "improvement"
    agent: AgentConfig = Field(default_factory=AgentConfig)
    objective: ValidationMetric = Field(
        "val/crps_rel",
        description="what episodes are selected and the optimiser minimises; val/crps_rel (CRPS / the "
        "trailing-60-day Gaussian's; 1 = the Gaussian) or a point error",
    )
    budget_epochs: int | None = Field(None, ge=1, description="stop once this many GAN epochs are spent")
    allow_stop: bool = Field(True, description="the rl controller may end the session early")
    min_episodes: int = Field(
        1,
        ge=1,
        description="episodes before the rl controller's stop is honoured (earlier, it trains a new set)",
    )
    pbt: PBTConfig = Field(default_factory=PBTConfig)
    racing: RacingConfig = Field(default_factory=RacingConfig)
    optuna: OptunaConfig = Field(default_factory=OptunaConfig)
    sessions_dir: Path | None = Field(
        None, description="session state for --resume (default runs_dir/sessions)"
    )

    def racing_epochs(self, epochs_per_episode: int) -> int:
        """GAN epochs a session holds back for racing: (candidates + the reference) x seeds x episode."""
        return (self.racing.candidates + 1) * self.racing.seeds * epochs_per_episode

    def check_racing_budget(self, epochs_per_episode: int) -> None:
        """A racing that leaves no room for the reference's own episode in tuning.budget_epochs is an error
        naming both keys (with no budget_epochs, the session's budget adds the racing's epochs)."""
        if self.budget_epochs is None:
            return
        racing = self.racing_epochs(epochs_per_episode)
        if racing + epochs_per_episode > self.budget_epochs:
            raise ValueError(
                f"tuning.racing takes ({self.racing.candidates} candidates + the reference) x "
                f"{self.racing.seeds} seeds x {epochs_per_episode} epochs = {racing} GAN epochs, and with "
                f"the reference's own episode more than tuning.budget_epochs ({self.budget_epochs}): lower "
                "tuning.racing.candidates or tuning.racing.seeds, or raise tuning.budget_epochs"
            )


class ExecutorConfig(StrictModel):
    kind: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)
    ray_address: str | None = None
    gpus_per_episode: float | Literal["auto"] = "auto"
    torch_threads: int | None = Field(None, ge=1, description="per worker (default: cores / workers)")
    connect_timeout_s: float = Field(5.0, gt=0.0, description="how long a ray_address may take to answer")
    max_retries: int = Field(
        2, ge=0, description="times a Ray episode whose worker or node died is run again before it is FAILED"
    )
    pending_timeout_s: float = Field(
        600.0,
        gt=0.0,
        description="how long Ray episodes wait while no alive node has room for one (its only worker died, "
        "the head has 0 CPUs) before they are FAILED; raise it for an autoscaler that starts nodes slowly",
    )


class TrackingConfig(StrictModel):
    uri: str = "sqlite:///runs/mlflow.db"
    artifact_root: Path = Field(
        Path("runs/artifacts"),
        description="new experiments' artifact folder for a local store; with an http(s) uri the tracking "
        "server keeps the artifacts (mlflow server --artifacts-destination)",
    )
    experiment: str | None = Field(None, description="MLflow experiment name (default: the config name)")


class BacktestConfig(StrictModel):
    cost_bps: float = Field(5.0, ge=0.0)
    hold_days: int = Field(1, ge=1)


class EvaluationConfig(StrictModel):
    baselines: list[str] = Field(
        default_factory=lambda: [
            "persistence",
            "drift",
            "arima",
            "xgboost",
            "gauss_60d",
            "gauss_ewma",
            "garch_t",
            "bootstrap",
            "filtered_bootstrap",
            "quantile_regression",
        ]
    )
    seeds: list[int] = Field(
        default_factory=list,
        description="seeds every model is refitted with per fold (mean +- std over them); empty: [seed]",
    )
    references: list[str] = Field(
        default_factory=lambda: ["garch_t", "har_t"],
        description="models every sampling model is tested against on per-day CRPS, one-sided ('is it "
        "better?'): columns p_better_<reference>; a reference that did not run is left out",
    )
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    giacomini_white: bool = Field(
        False,
        description="also test each model's absolute errors against persistence's for conditional "
        "predictive ability (Giacomini-White; instruments: a constant and the last loss differential): "
        "gw_stat, gw_pvalue",
    )
    report: Path | None = Field(Path("runs/reports/{name}.html"), description="HTML report path")


class ExperimentConfig(StrictModel):
    name: str = "default"
    description: str = ""
    seed: int = 7
    runs_dir: Path = Path("runs")
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    gan: GanConfig = Field(default_factory=GanConfig)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    @model_validator(mode="after")
    def _racing_fits_the_budget(self) -> ExperimentConfig:
        self.tuning.check_racing_budget(self.tuning.epochs_per_episode or self.gan.epochs)
        return self

    @property
    def evaluation_seeds(self) -> list[int]:
        """The seeds models are refitted with per fold: evaluation.seeds, or the experiment's seed."""
        return list(self.evaluation.seeds) or [self.seed]

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.name

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- loading


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a YAML config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if raw is None:
        raise ConfigError(f"{path}: config file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    return raw


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_file(path: Path, source: Path | None, key: str = "extends", what: str = "config") -> Path:
    """`path` as the working directory reads it; a missing one names the file (`source`) and the `key` that
    name it, and points at the file when it sits beside that file (written as seen from its folder)."""
    if path.exists() or source is None:
        return path
    beside = source.parent / path
    hint = (
        f"; it is beside the {what}: write {key}: {os.path.relpath(beside)}"
        if not path.is_absolute() and beside.is_file()
        else ""
    )
    raise ConfigError(
        f"{source}: {key}: {path}: config file not found in the working directory {Path.cwd()} "
        f"(relative paths in a {what}, {key} included, are read from there{hint})"
    )


def _resolve_extends(
    path: Path, seen: tuple[Path, ...] = (), source: Path | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    """The config at `path` and the chain of configs it extends: (file, its own keys), child first."""
    resolved = config_file(path, source).resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"{resolved}: extends: circular inheritance ({chain})")
    raw = _read_yaml(resolved)
    parent = raw.pop("extends", None)
    if parent is None:
        return [(path, raw)]
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: expected a file path, got {parent!r}")
    return [(path, raw), *_resolve_extends(Path(parent), (*seen, resolved), path)]


# Where a run writes what belongs to its experiment: an inherited literal value would write over the
# parent experiment's files (a value with {name} in it follows the child's name).
EXPERIMENT_OUTPUTS = (
    ("tracking", "experiment"),
    ("evaluation", "report"),
    ("tuning", "agent", "policy_path"),
)


def _lookup(raw: dict[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = raw
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _own_name(chain: list[tuple[Path, dict[str, Any]]], overrides: list[str]) -> dict[str, Any]:
    """Name the experiment after its own file unless that file (or --set) names it; refuse outputs
    inherited from a parent that would write over the parent experiment's report, policy or runs."""
    (path, own), parents = chain[0], chain[1:]
    overridden = {tuple(parse_override(item)[0]) for item in overrides}
    patch: dict[str, Any] = {}
    if "name" not in own and ("name",) not in overridden:
        patch["name"] = path.stem
    for keys in EXPERIMENT_OUTPUTS:
        if _lookup(own, keys) is not None or keys in overridden:
            continue
        for parent, values in parents:
            value = _lookup(values, keys)
            if value is not None:
                if "{name}" not in str(value):
                    key = ".".join(keys)
                    raise ConfigError(
                        f"{path}: {key}: inherited from {parent} ({value}), so this experiment would write "
                        f"over that one's; set {key} in {path.name} (or with --set {key}=...)"
                    )
                break
    return patch


def _merged(chain: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _path, raw in reversed(chain):
        merged = deep_merge(merged, raw)
    return merged


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse `a.b.c=value`; the value is read as YAML (numbers, booleans, lists, null)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    key, _, text = item.partition("=")
    parts = key.strip().split(".")
    if not key.strip() or any(not part for part in parts):
        raise ConfigError(f"--set {item!r}: empty key path")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    result = copy.deepcopy(raw)
    for item in overrides:
        parts, value = parse_override(item)
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {item!r}: {where} is not a mapping")
            node = child
        node[parts[-1]] = value
    return result


def _format_validation(source: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if not where and message.startswith("tuning."):  # a check across sections names its own keys
        return f"{source}: {message}{more}"
    return f"{source}: {where or '(top level)'}: {message}{more}"


def validate_config(raw: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None


def _warn_shadowed_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """One line when a --set changes a key that another key of the config overrides (it would change
    nothing the user sees): gan.epochs under tuning.epochs_per_episode."""
    overridden = {tuple(parse_override(item)[0]) for item in overrides}
    per_episode = _lookup(raw, ("tuning", "epochs_per_episode"))
    shadowed = per_episode is not None and per_episode != _lookup(raw, ("gan", "epochs"))
    if shadowed and ("gan", "epochs") in overridden and ("tuning", "epochs_per_episode") not in overridden:
        log.warning(
            "--set gan.epochs: tuning episodes train tuning.epochs_per_episode = %s epochs (set in the "
            "config), not gan.epochs; to change them: --set tuning.epochs_per_episode=N",
            per_episode,
        )


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load a YAML config (following `extends:`), apply `--set` overrides and validate it.

    Relative paths are read from the working directory; a config without its own `name:` is named after
    its file.
    """
    overrides = list(overrides or [])
    raw: dict[str, Any] = {}
    if path is not None:
        chain = _resolve_extends(Path(path))
        raw = deep_merge(_merged(chain), _own_name(chain, overrides))
    raw = apply_overrides(raw, overrides)
    config = validate_config(raw, str(path) if path is not None else "<defaults>")
    if path is not None:
        _check_input_paths(config, Path(path))
    _warn_shadowed_overrides(raw, overrides)
    return config


def _check_input_paths(config: ExperimentConfig, path: Path) -> None:
    """A data path missing from the working directory but present beside the config was written relative
    to the config: say so in one line naming the key (the loaders' own errors cover every other miss)."""
    data = config.data
    named: list[tuple[str, Path | None]] = [
        ("data.prices_dir", data.prices_dir),
        ("data.long_file", data.long_file),
        ("data.news", data.news),
        *((f"data.files[{i}].path", entry.path) for i, entry in enumerate(data.files)),
    ]
    for key, value in named:
        if value is None or value.is_absolute() or value.exists():
            continue
        beside = path.parent / value
        if path.parent.resolve() != Path.cwd().resolve() and beside.exists():
            raise ConfigError(
                f"{path}: {key}: {value} not found in the working directory {Path.cwd()} (relative paths "
                f"in a config are read from there, not from the config's folder); write "
                f"{os.path.relpath(beside)}"
            )


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
