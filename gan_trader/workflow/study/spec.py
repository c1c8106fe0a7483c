"""The study file: a grid of targets x feature sets x models x seeds over one experiment's walk-forward folds.

```yaml
name: feature_study                 # MLflow experiment of the study (default: the file's stem)
experiment: experiments/default.yaml   # the base experiment (data, split, builders' parameters, gan...),
                                    # read from the working directory, like every path in a config
set: [gan.generator.conditioning=true]   # --set overrides of the base experiment, for every cell
targets: [MSFT, SP500]              # assets of the base experiment's data
seeds: [7, 8, 9]
feature_sets: [history, volatility, technical, all, {name: vol_tech, groups: [volatility, technical]}]
models:                             # one cell per feature set, target and seed
  - gan                             # short form: the name is the model (`gan` or a registered baseline)
  - {name: gan_free, model: gan, set: [gan.generator.form=free]}
  - lstm_skewt
per_target: [har_t, garch_t, gauss_60d]   # once per target and seed, on every group's columns
tests: {baseline_set: history, against: [garch_t, har_t], mcs: [har_t, garch_t, gauss_60d]}
quick: {seeds: [7], feature_sets: [history, volatility, all]}   # what --quick keeps (and extra `set`)
```

A feature set is `history` (the models read the target's own history alone: no feature column) plus groups
of feature builders (`GROUPS`); a string entry names one group (a set of its own name), `history`, or `all`
(every group the data supports: `sentiment` only with news). A model entry's `set` may change `gan.*` and
`features.scaler` only: data, split and feature builders are the study's, shared by every cell. Every error
names the study file and the key, and is raised before any cell starts (exit 2).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gan_trader.config import (
    ExperimentConfig,
    apply_overrides,
    config_file,
    load_config,
    parse_override,
    validate_config,
)
from gan_trader.data.panel import load_series
from gan_trader.errors import ConfigError, GanTraderError
from gan_trader.models.baselines import REGISTRY as BASELINE_REGISTRY

# Feature groups: a group's columns are those of its builders (every built column is `<builder>.<member>`).
GROUPS: dict[str, tuple[str, ...]] = {
    "volatility": ("volatility",),
    "technical": ("technical",),
    "assets": ("assets",),
    "fourier": ("fourier",),
    "arima": ("arima",),
    "autoencoder": ("autoencoder", "pca", "anomaly"),
    "sentiment": ("sentiment",),
}
# The order the union of the groups is built in: the autoencoder group first, so that it reads the panel's
# returns alone (its builders read every stationary column built before them) and each group's columns
# depend on the panel and its own builders only, whichever other groups the study lists.
BUILD_ORDER = ("autoencoder", "volatility", "technical", "assets", "fourier", "arima", "sentiment")
HISTORY = "history"
ALL = "all"
GAN = "gan"
PER_TARGET = "per_target"  # the feature-set label of the models fitted once per target
NEEDS_NEWS = "sentiment"
DEFAULT_REFERENCES = ("garch_t", "har_t")  # what every model is tested against, when per-target models
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# What a model entry's `set` may change: how the model trains, not what it is trained on.
MODEL_KEYS = ("gan.", "features.scaler")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """A named model: `gan` or a registered baseline, with --set-style overrides of its config."""

    name: str
    model: str | None = Field(None, description="gan or a registered baseline (default: the name)")
    set: list[str] = Field(default_factory=list, description="overrides of gan.* and features.scaler")


class FeatureSetSpec(_Strict):
    name: str
    groups: list[str]


class TestsSpec(_Strict):
    """What the tables test: each model against itself with `baseline_set`, against the per-target models
    in `against`, and each GAN against the same-information models of its feature set (`rivals`)."""

    baseline_set: str | None = HISTORY
    against: list[str] | None = Field(
        None, description="default: garch_t and har_t, those of them that are per_target models"
    )
    mcs: list[str] | None = Field(None, description="per-target models in each MCS (default: every one)")
    rivals: bool = True
    alpha: float = Field(0.05, gt=0.0, lt=1.0)


class QuickSpec(_Strict):
    """What `--quick` keeps of the grid (names of the full study's entries), and overrides it adds."""

    targets: list[str] | None = None
    seeds: list[int] | None = None
    feature_sets: list[str] | None = None
    models: list[str] | None = None
    per_target: list[str] | None = None
    set: list[str] = Field(default_factory=list)


class StudyFile(_Strict):
    name: str | None = None
    description: str = ""
    experiment: Path = Path("experiments/default.yaml")
    set: list[str] = Field(default_factory=list)
    targets: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    feature_sets: list[str | FeatureSetSpec] = Field(min_length=1)
    models: list[str | ModelSpec] = Field(min_length=1)
    per_target: list[str | ModelSpec] = Field(default_factory=list)
    tests: TestsSpec = Field(default_factory=TestsSpec)
    quick: QuickSpec | None = None

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, value: list[int]) -> list[int]:
        duplicated = sorted({s for s in value if value.count(s) > 1})
        if duplicated:
            raise ValueError(f"seed {duplicated[0]} is listed twice")
        return value


@dataclass(frozen=True)
class FeatureSet:
    """A named list of groups; `history` has none."""

    name: str
    groups: tuple[str, ...]

    @property
    def builders(self) -> tuple[str, ...]:
        return tuple(builder for group in self.groups for builder in GROUPS[group])

    def columns(self, available: list[str]) -> list[str]:
        """The columns of `available` its groups' builders made."""
        builders = set(self.builders)
        return [c for c in available if str(c).split(".", 1)[0] in builders]


@dataclass(frozen=True)
class StudyModel:
    """A model of the study: its name (the tables' row), what it is, and its config overrides."""

    name: str
    model: str
    overrides: tuple[str, ...] = ()
    per_target: bool = False

    @property
    def is_gan(self) -> bool:
        return self.model == GAN


@dataclass(frozen=True)
class Cell:
    """One model on one target with one feature set and seed, over the experiment's walk-forward folds."""

    target: str
    feature_set: str
    model: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.target}/{self.feature_set}/{self.model}/{self.seed}"


@dataclass
class Study:
    """A validated study: the base experiment with the study's overrides, and the grid."""

    name: str
    source: str
    description: str
    base: ExperimentConfig
    targets: list[str]
    seeds: list[int]
    feature_sets: list[FeatureSet]
    models: list[StudyModel]
    per_target: list[StudyModel]
    tests: TestsSpec
    quick: bool = False
    configs: dict[tuple[str, str], ExperimentConfig] = field(default_factory=dict, repr=False)

    @property
    def groups(self) -> list[str]:
        """The groups every target's features are built with, in build order: the union of the sets' groups
        and, for the per-target models (har_t reads its columns), the volatility group."""
        used = {g for s in self.feature_sets for g in s.groups}
        if self.per_target:
            used.add("volatility")
        return [g for g in BUILD_ORDER if g in used]

    def builders(self) -> dict[str, dict[str, Any] | None]:
        """The union's builders with the base experiment's parameters (a builder it lacks: its defaults)."""
        configured = self.base.features.builders
        return {
            builder: dict(configured.get(builder) or {}) for group in self.groups for builder in GROUPS[group]
        }

    def feature_set(self, name: str) -> FeatureSet:
        return next(s for s in self.feature_sets if s.name == name)

    def model(self, name: str) -> StudyModel:
        return next(m for m in [*self.models, *self.per_target] if m.name == name)

    def target_config(self, target: str) -> ExperimentConfig:
        """The base experiment on `target` with the union's builders: what its features are built with."""
        key = ("", target)
        if key not in self.configs:
            raw = apply_overrides(self.base.to_dict(), [f"data.target={target}"])
            raw["features"]["builders"] = self.builders()
            self.configs[key] = validate_config(raw, f"{self.source}: targets: {target}")
        return self.configs[key]

    def config(self, model: StudyModel, target: str) -> ExperimentConfig:
        """The experiment config a model trains with on a target (the study's features and data)."""
        key = (model.name, target)
        if key not in self.configs:
            raw = apply_overrides(self.target_config(target).to_dict(), list(model.overrides))
            self.configs[key] = validate_config(raw, f"{self.source}: model {model.name}: set")
        return self.configs[key]

    def cells(self) -> list[Cell]:
        """Every cell, in a stable order (per-target models first: they are cheap)."""
        cells = [
            Cell(target, PER_TARGET, model.name, seed)
            for target in self.targets
            for model in self.per_target
            for seed in self.seeds
        ]
        cells += [
            Cell(target, feature_set.name, model.name, seed)
            for target in self.targets
            for feature_set in self.feature_sets
            for model in self.models
            for seed in self.seeds
        ]
        return cells

    def digest(self, cell: Cell) -> str:
        """What a cell's result depends on: a finished cell with another digest is run again on resume."""
        config = self.config(self.model(cell.model), cell.target)
        groups = [] if cell.feature_set == PER_TARGET else list(self.feature_set(cell.feature_set).groups)
        payload = {
            "data": config.data.model_dump(mode="json"),
            "split": config.split.model_dump(mode="json"),
            "features": config.features.model_dump(mode="json", exclude={"cache_dir"}),
            "gan": config.gan.model_dump(mode="json", exclude={"device"}),
            "model": self.model(cell.model).model,
            "groups": groups,
            "seed": cell.seed,
            "feature_seed": config.seed,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def rivals(self) -> dict[str, list[str]]:
        """Each GAN's same-information rivals: the other models of the feature sets (none when tests.rivals is
        off)."""
        if not self.tests.rivals:
            return {}
        others = [m.name for m in self.models if not m.is_gan]
        return {m.name: others for m in self.models if m.is_gan}

    def restricted(
        self,
        targets: list[str] | None = None,
        seeds: list[int] | None = None,
        feature_sets: list[str] | None = None,
        models: list[str] | None = None,
    ) -> Study:
        """A slice of the grid (names of this study's entries; None keeps all): what the benchmark times."""
        return dataclasses.replace(
            self,
            targets=[t for t in self.targets if targets is None or t in targets],
            seeds=[s for s in self.seeds if seeds is None or s in seeds],
            feature_sets=[s for s in self.feature_sets if feature_sets is None or s.name in feature_sets],
            models=[m for m in self.models if models is None or m.name in models],
            configs={},
        )

    def describe(self) -> str:
        cells = len(self.cells())
        return (
            f"{len(self.targets)} targets x {len(self.feature_sets)} feature sets x "
            f"{len(self.models)} models "
            f"x {len(self.seeds)} seeds (+ {len(self.per_target)} models per target): {cells} cells over "
            f"{max(self.base.split.walk_forward.folds, 1)} folds"
        )


# ---------------------------------------------------------------- loading


# Pydantic's errors for the other members of a union (`str | ModelSpec`): shown only when nothing else is.
UNION_MISMATCH = ("string_type", "int_type", "model_type", "model_attributes_type", "dict_type")
UNION_MEMBERS = ("str", "int", "ModelSpec", "FeatureSetSpec")


def _format(source: str, exc: ValidationError) -> str:
    errors = exc.errors()
    first = next((e for e in errors if e["type"] not in UNION_MISMATCH), errors[0])
    where = ".".join(str(p) for p in first["loc"] if str(p) not in UNION_MEMBERS)
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    message = message.removeprefix("Value error, ")
    return f"{source}: {where or '(top level)'}: {message}"


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: study file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid YAML ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return raw


def _check_name(source: str, where: str, name: str) -> str:
    if not NAME.match(name) or name == PER_TARGET:
        raise ConfigError(
            f"{source}: {where}: {name!r} is not a usable name (letters, digits, _ . + -; not {PER_TARGET})"
        )
    return name


def _model(source: str, where: str, entry: str | ModelSpec, per_target: bool) -> StudyModel:
    spec = ModelSpec(name=entry) if isinstance(entry, str) else entry
    name = _check_name(source, where, spec.name)
    model = spec.model or name
    if model != GAN and model not in BASELINE_REGISTRY:
        known = ", ".join([GAN, *BASELINE_REGISTRY])
        raise ConfigError(f"{source}: {where}: unknown model {model!r} (known: {known})")
    for item in spec.set:
        parts, _value = parse_override(item)
        key = ".".join(parts)
        if not key.startswith(MODEL_KEYS):
            raise ConfigError(
                f"{source}: {where}.set: {key}: a model may change gan.* and features.scaler only (data, "
                "split and feature builders are the study's; put them in the study's own `set`)"
            )
    return StudyModel(name, model, tuple(spec.set), per_target)


def _feature_set(source: str, where: str, entry: str | FeatureSetSpec, news: bool) -> FeatureSet:
    if isinstance(entry, str):
        name, groups = entry, [entry]
    else:
        name, groups = entry.name, list(entry.groups)
    _check_name(source, where, name)
    expanded: list[str] = []
    for group in groups:
        if group == HISTORY:
            continue
        if group == ALL:
            expanded += [g for g in GROUPS if g != NEEDS_NEWS or news]
            continue
        if group not in GROUPS:
            known = ", ".join([HISTORY, *GROUPS, ALL])
            raise ConfigError(f"{source}: {where}: unknown group {group!r} (groups: {known})")
        if group == NEEDS_NEWS and not news:
            raise ConfigError(
                f"{source}: {where}: group 'sentiment' needs news: set data.news in the study's `set` or its "
                "experiment"
            )
        expanded.append(group)
    return FeatureSet(name, tuple(dict.fromkeys(expanded)))


def _unique(source: str, where: str, names: list[str]) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{source}: {where}: {duplicated[0]!r} is listed twice")


def _keep(source: str, where: str, wanted: list[Any] | None, known: list[Any]) -> list[Any]:
    if wanted is None:
        return known
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ConfigError(f"{source}: {where}: {unknown[0]!r} is not in the study")
    return [k for k in known if k in wanted]


def _check_targets(source: str, base: ExperimentConfig, targets: list[str]) -> None:
    try:
        loaded = {s.name for s in load_series(base.data)}
    except GanTraderError as exc:
        raise type(exc)(f"{source}: {exc}") from None
    for index, target in enumerate(targets):
        if target not in loaded:
            raise ConfigError(
                f"{source}: targets.{index}: unknown target {target!r} "
                f"(the data has: {', '.join(sorted(loaded))})"
            )


def load_study(
    path: str | Path, quick: bool = False, overrides: list[str] | None = None, check_data: bool = True
) -> Study:
    """Read and validate a study file (and its base experiment) before anything runs.

    :param quick: keep what the file's `quick` section names (a first look).
    :param overrides: --set overrides of the base experiment, after the study's own (e.g. executor.kind=ray).
    :param check_data: check that every target is among the data's assets (reads the price files' names).
    """
    path = Path(path)
    source = str(path)
    raw = _read(path)
    try:
        spec = StudyFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(source, exc)) from None
    if quick and spec.quick is None:
        raise ConfigError(f"{source}: quick: --quick needs a `quick` section saying what a first look keeps")
    quick_spec = spec.quick if quick and spec.quick is not None else QuickSpec()
    experiment = config_file(spec.experiment, path, key="experiment", what="study file")
    try:
        base = load_config(experiment, [*spec.set, *quick_spec.set, *(overrides or [])])
    except ConfigError as exc:
        raise ConfigError(f"{source}: experiment {spec.experiment}: {exc}") from None
    news = base.data.news is not None
    feature_sets = [
        _feature_set(source, f"feature_sets.{i}", entry, news) for i, entry in enumerate(spec.feature_sets)
    ]
    models = [_model(source, f"models.{i}", entry, False) for i, entry in enumerate(spec.models)]
    per_target = [_model(source, f"per_target.{i}", entry, True) for i, entry in enumerate(spec.per_target)]
    _unique(source, "feature_sets", [s.name for s in feature_sets])
    _unique(source, "models", [m.name for m in [*models, *per_target]])
    _unique(source, "targets", list(spec.targets))
    per_target_names = [m.name for m in per_target]
    tests = spec.tests.model_copy(
        update={
            "against": [n for n in DEFAULT_REFERENCES if n in per_target_names]
            if spec.tests.against is None
            else spec.tests.against,
            "mcs": per_target_names if spec.tests.mcs is None else spec.tests.mcs,
        }
    )
    for key, names in (("tests.against", tests.against), ("tests.mcs", tests.mcs)):
        for index, name in enumerate(names or []):
            if name not in per_target_names:
                raise ConfigError(
                    f"{source}: {key}.{index}: {name!r} is not a per_target model "
                    f"({', '.join(per_target_names) or 'none'})"
                )
    set_names = [s.name for s in feature_sets]
    if tests.baseline_set is not None and tests.baseline_set not in set_names:
        raise ConfigError(f"{source}: tests.baseline_set: {tests.baseline_set!r} is not a feature set")
    targets = _keep(source, "quick.targets", quick_spec.targets, list(spec.targets))
    seeds = _keep(source, "quick.seeds", quick_spec.seeds, list(spec.seeds))
    kept_sets = _keep(source, "quick.feature_sets", quick_spec.feature_sets, set_names)
    kept_models = _keep(source, "quick.models", quick_spec.models, [m.name for m in models])
    kept_per_target = _keep(source, "quick.per_target", quick_spec.per_target, per_target_names)
    if tests.baseline_set is not None and tests.baseline_set not in kept_sets:
        tests = tests.model_copy(update={"baseline_set": None})
    tests = tests.model_copy(
        update={
            "against": [n for n in tests.against or [] if n in kept_per_target],
            "mcs": [n for n in tests.mcs or [] if n in kept_per_target],
        }
    )
    if check_data:
        _check_targets(source, base, targets)
    study = Study(
        name=spec.name or path.stem,
        source=source,
        description=spec.description,
        base=base,
        targets=targets,
        seeds=seeds,
        feature_sets=[s for s in feature_sets if s.name in kept_sets],
        models=[m for m in models if m.name in kept_models],
        per_target=[m for m in per_target if m.name in kept_per_target],
        tests=tests,
        quick=quick,
    )
    for model in [*study.models, *study.per_target]:  # every model's config is valid on every target
        for target in study.targets:
            study.config(model, target)
    return study
