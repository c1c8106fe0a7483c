"""The hyperparameter search space: typed dimensions, the continuous box the optimiser works in, and the
mapping of each hyperparameter onto the GAN config.

Box coordinates: `float` as is; `log_float` as log10; `int` on [low - 0.5, high + 0.5) and rounded, so each
integer owns an equal share of the box; `categorical` as an index on [0, n) and floored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gan_trader.config import GanConfig, ParamSpec
from gan_trader.errors import TuningError

# The original article's nine names and where each lands in `gan.*`; a tuple means several paths.
ALIASES: dict[str, tuple[str, ...]] = {
    "batch_size": ("batch_size",),
    "cnn_lr": ("lr_d",),
    "strides": ("critic.strides",),
    "lrelu_alpha": ("critic.lrelu_alpha",),
    "batchnorm_momentum": ("critic.batchnorm_momentum",),
    "padding": ("critic.padding",),
    "kernel_size": ("critic.kernel_size",),
    "dropout": ("generator.dropout", "critic.dropout"),
    "filters": ("critic.filters",),
    # The GAN's own knobs, under names without dots (so `--set tuning.space.NAME.low=...` stays a path).
    "lr_g": ("lr_g",),
    "n_critic": ("n_critic",),
    "score_weight": ("score_weight",),
    "noise_dim": ("generator.noise_dim",),
}

# Paths that change the networks' shapes: a checkpoint cannot be loaded into a model with another value.
ARCHITECTURE_PATHS = frozenset(
    {
        "critic.filters",
        "critic.kernel_size",
        "critic.strides",
        "critic.padding",
        "critic.dense",
        "critic.norm",
        "critic.conditioning",
        "generator.hidden",
        "generator.layers",
        "generator.noise_dim",
        "seq_len",
        "loss",
    }
)

_EDGE = 1e-9  # keeps rounded ints inside [low, high] at the box's open upper edge


def _gan_path_exists(path: str) -> bool:
    node: Any = GanConfig.model_fields
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        annotation = node[part].annotation
        sub = getattr(annotation, "model_fields", None)
        node = sub if sub is not None else {}
    return True


def gan_paths(name: str) -> tuple[str, ...]:
    """The `gan.*` paths (without the `gan.` prefix) a hyperparameter sets; unknown names are an error."""
    if name in ALIASES:
        return ALIASES[name]
    path = name.removeprefix("gan.")
    if name.startswith("gan.") and _gan_path_exists(path):
        return (path,)
    known = ", ".join(sorted(ALIASES))
    raise TuningError(
        f"tuning.space.{name}: unknown hyperparameter (use one of {known}, or a gan.* path such as gan.lr_g)"
    )


@dataclass(frozen=True)
class Dimension:
    """One typed hyperparameter and its box coordinate."""

    name: str
    spec: ParamSpec

    @property
    def bounds(self) -> tuple[float, float]:
        spec = self.spec
        if spec.type == "categorical":
            return 0.0, float(len(spec.choices or []))
        low, high = float(spec.low), float(spec.high)  # type: ignore[arg-type]
        if spec.type == "log_float":
            return math.log10(low), math.log10(high)
        if spec.type == "int":
            return low - 0.5, high + 0.5
        return low, high

    def from_box(self, x: float) -> Any:
        low, high = self.bounds
        x = float(np.clip(x, low, high - _EDGE if self.spec.type in ("int", "categorical") else high))
        spec = self.spec
        if spec.type == "categorical":
            return (spec.choices or [])[int(math.floor(x))]
        if spec.type == "int":
            return int(np.clip(round(x), spec.low, spec.high))
        if spec.type == "log_float":
            return float(np.clip(10.0**x, spec.low, spec.high))
        return float(x)

    def to_box(self, value: Any) -> float:
        spec = self.spec
        if spec.type == "categorical":
            choices = spec.choices or []
            for position, choice in enumerate(choices):
                if choice == value or str(choice) == str(value):
                    return position + 0.5
            raise TuningError(f"tuning.space.{self.name}: {value!r} is not one of {choices}")
        number = float(value)
        if not (spec.low <= number <= spec.high):  # type: ignore[operator]
            raise TuningError(f"tuning.space.{self.name}: {number} lies outside [{spec.low}, {spec.high}]")
        if spec.type == "log_float":
            return math.log10(number)
        return float(round(number)) if spec.type == "int" else number

    def parse(self, text: str) -> Any:
        """A value read back from a logged string parameter."""
        if self.spec.type == "categorical":
            for choice in self.spec.choices or []:
                if str(choice) == text or json.dumps(choice) == text:
                    return choice
            raise TuningError(f"tuning.space.{self.name}: logged value {text!r} is not a choice")
        return int(float(text)) if self.spec.type == "int" else float(text)


def changes_architecture(name: str) -> bool:
    return any(path in ARCHITECTURE_PATHS for path in gan_paths(name))


class SearchSpace:
    """An ordered set of dimensions; validated against the GAN config's paths when built."""

    def __init__(self, specs: Mapping[str, ParamSpec]) -> None:
        if not specs:
            raise TuningError("tuning.space: the search space is empty")
        for name in specs:
            gan_paths(name)
        self.dimensions = [Dimension(name, spec) for name, spec in specs.items()]

    @property
    def names(self) -> list[str]:
        return [dim.name for dim in self.dimensions]

    def __len__(self) -> int:
        return len(self.dimensions)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        return {dim.name: dim.bounds for dim in self.dimensions}

    def from_box(self, point: Mapping[str, float] | np.ndarray) -> dict[str, Any]:
        if not isinstance(point, Mapping):
            point = dict(zip(self.names, np.asarray(point, float), strict=True))
        return {dim.name: dim.from_box(float(point[dim.name])) for dim in self.dimensions}

    def to_box(self, params: Mapping[str, Any]) -> dict[str, float]:
        self.check(params)
        return {dim.name: dim.to_box(params[dim.name]) for dim in self.dimensions}

    def check(self, params: Mapping[str, Any]) -> None:
        missing = [name for name in self.names if name not in params]
        if missing:
            raise TuningError(f"tuning.space.{missing[0]}: no value given")
        for name in params:
            if name not in self.names:
                raise TuningError(f"tuning.space.{name}: not a dimension of the search space")

    def normalise(self, params: Mapping[str, Any]) -> np.ndarray:
        """Each value's position in its box as a number in [0, 1] (observation for the RL controller)."""
        box = self.to_box(params)
        out = []
        for dim in self.dimensions:
            low, high = dim.bounds
            out.append((box[dim.name] - low) / (high - low))
        return np.clip(np.asarray(out, np.float32), 0.0, 1.0)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        point = {dim.name: rng.uniform(*dim.bounds) for dim in self.dimensions}
        return self.from_box(point)

    def parse(self, logged: Mapping[str, str]) -> dict[str, Any]:
        """Hyperparameters read back from logged string params; missing or out-of-range values raise."""
        values = {dim.name: dim.parse(logged[dim.name]) for dim in self.dimensions if dim.name in logged}
        self.to_box(values)
        return values


def reference_set(gan: GanConfig, names: list[str]) -> dict[str, Any]:
    """The values the config itself gives each hyperparameter: the session's reference set (what `fixed`
    restarts, what every other strategy trains first and must beat)."""
    raw = gan.model_dump(mode="python")
    values: dict[str, Any] = {}
    for name in names:
        path = gan_paths(name)[0]
        node: Any = raw
        for part in path.split("."):
            node = node[part]
        values[name] = node[0] if path == "critic.filters" else node
    return values


def outside_box(space: SearchSpace, params: Mapping[str, Any]) -> list[str]:
    """`name value (range)` for each of `params` that lies outside the search box."""
    outside = []
    for dim in space.dimensions:
        try:
            dim.to_box(params[dim.name])
        except (TuningError, KeyError, TypeError, ValueError):
            spec = dim.spec
            where = spec.choices if spec.type == "categorical" else f"[{spec.low:g}, {spec.high:g}]"
            outside.append(f"{dim.name} {params.get(dim.name)!r} (not in {where})")
    return outside


def apply_hyperparameters(gan: GanConfig, params: Mapping[str, Any]) -> GanConfig:
    """A copy of `gan` with the hyperparameters set (validated by the config model)."""
    from pydantic import ValidationError

    raw = gan.model_dump(mode="python")
    for name, value in params.items():
        for path in gan_paths(name):
            setting: Any = value
            if path == "critic.filters":
                base = int(value)
                setting = [base, 2 * base, 4 * base]
            node = raw
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = setting
    try:
        return GanConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TuningError(f"tuning.space: the value for gan.{where} is invalid ({first['msg']})") from None
