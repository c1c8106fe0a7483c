"""The feature-builder protocol and its registry.

A builder learns only from rows up to `train_end` in `fit`, and `transform` returns columns whose row t uses
rows <= t only. Builders see the panel frame plus the columns produced by the builders listed before them
(PCA reads the autoencoder's features, importance selects among all). The truncation test holds every
registered builder to this.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from threadpoolctl import threadpool_limits

from gan_trader.errors import ConfigError, FeatureError
from gan_trader.registry import resolve

BuilderKind = Literal["features", "selector", "report"]
Representation = Literal["stationary", "level"]


class BuilderParams(BaseModel):
    """Base of every builder's parameter model: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class RepresentationParams(BuilderParams):
    """Parameters of a builder that derives its features from prices: `stationary` (default, qlib's Alpha158
    convention: a price-derived quantity divided by the day's close, or a log ratio) keeps every value in a
    range the training span has seen; `level` reproduces the article's price levels."""

    representation: Representation = "stationary"


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know besides its parameters; nothing here depends on rows after train_end."""

    target: str
    seed: int = 0
    target_kind: Literal["log_return", "price"] = "log_return"
    news: Path | None = None
    news_timezone: str = "America/New_York"
    cache_dir: Path | None = None
    asset_columns: tuple[str, ...] = ()
    # The panel's other equity series (market-wide features) and its low-frequency (macro) series.
    equity_assets: tuple[str, ...] = ()
    low_frequency_assets: tuple[str, ...] = ()
    # Builders of this pipeline that emit price levels (representation: level): their columns are not
    # stationary inputs for the autoencoder, PCA and anomaly builders.
    level_builders: tuple[str, ...] = ()
    # Whether the target's own close is a feature (features.target_close); it is read for labels anyway.
    close_feature: bool = False


@dataclass
class Artifact:
    """A table or figure a builder produced while fitting (importance table, checks report...)."""

    name: str
    table: pd.DataFrame | None = None
    figure: Any = None  # a matplotlib Figure
    text: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


P = TypeVar("P", bound=BuilderParams)


class FeatureBuilder(ABC, Generic[P]):
    """Fit on the training span, transform causally. Subclasses set `name`, `Params` and the two hooks.

    Generic over its parameter model: `class Technical(FeatureBuilder[TechnicalParams])` with
    `Params = TechnicalParams` types `self.params` as TechnicalParams.

    kind: "features" builders add columns; a "selector" returns the subset of existing columns to keep
    (its `transform` returns the frame restricted to them); a "report" adds nothing and only produces
    artifacts.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BuilderParams]] = BuilderParams
    kind: ClassVar[BuilderKind] = "features"

    def __init__(self, params: P, context: BuildContext) -> None:
        self.params: P = params
        self.context = context
        self.artifacts: list[Artifact] = []
        self.skipped: str | None = None  # set with a reason when the builder cannot apply (no news...)
        # One line per member left out (a close-only file has no ATR...); the pipeline logs and keeps them.
        self.notes: list[str] = []

    @abstractmethod
    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> FeatureBuilder[P]:
        """Learn whatever the builder learns from `frame.loc[:train_end]` only; return self."""

    @abstractmethod
    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return new columns indexed like `frame`; row t may only use rows <= t."""

    def fit_transform(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> pd.DataFrame:
        return self.fit(frame, train_end).transform(frame)

    # helpers shared by builders ---------------------------------------------------------------------

    def column(self, suffix: str) -> str:
        return f"{self.name}.{suffix}"

    @staticmethod
    def training_rows(frame: pd.DataFrame, train_end: pd.Timestamp) -> pd.DataFrame:
        rows = frame.loc[:train_end]
        if rows.empty:
            raise FeatureError(f"no training rows up to {train_end.date()}")
        return rows

    @property
    def emits_levels(self) -> bool:
        """Whether this builder's columns are price levels (representation: level)."""
        return isinstance(self.params, RepresentationParams) and self.params.representation == "level"

    def note(self, message: str) -> None:
        """Record a member left out, once (fit may run again on the same builder)."""
        line = f"{self.name}: {message}"
        if line not in self.notes:
            self.notes.append(line)

    def stationary_columns(self, frame: pd.DataFrame) -> list[str]:
        """The numeric columns of earlier builders that are stationary: not the panel's raw prices and
        volumes, not the columns of a builder in `level` representation."""
        found = []
        for column in frame.columns:
            prefix = str(column).split(".", 1)[0]
            if prefix not in REGISTRY or prefix in self.context.level_builders or prefix == self.name:
                continue
            if pd.api.types.is_numeric_dtype(frame[column]):
                found.append(column)
        return found

    def require(self, frame: pd.DataFrame, columns: list[str]) -> None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise FeatureError(
                f"features.builders.{self.name}: needs column '{missing[0]}', which the data does not have"
            )


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run BLAS / OpenMP on one thread inside the block (restored after it).

    Builders' matrices are small (thousands of rows, tens of columns), so a second BLAS thread mostly waits
    at barriers: ARIMA fits and VIF regressions ran several times slower with two (docs/performance.md).
    """
    with threadpool_limits(limits=1):
        yield


# Registry: builder name -> "module:Class". Adding a builder is one module plus one entry here.
REGISTRY: dict[str, str] = {
    "technical": "gan_trader.features.technical:TechnicalIndicators",
    "volatility": "gan_trader.features.volatility:VolatilityFeatures",
    "assets": "gan_trader.features.assets:CorrelatedAssets",
    "fourier": "gan_trader.features.fourier:FourierTrends",
    "arima": "gan_trader.features.arima:ArimaForecast",
    "autoencoder": "gan_trader.features.autoencoder:AutoencoderFeatures",
    "pca": "gan_trader.features.pca:PrincipalComponents",
    "anomaly": "gan_trader.features.anomaly:AnomalyScore",
    "sentiment": "gan_trader.features.sentiment:NewsSentiment",
    "importance": "gan_trader.features.importance:XGBoostImportance",
    "checks": "gan_trader.features.checks:StatisticalChecks",
}

BUILDERS: tuple[str, ...] = tuple(REGISTRY)


def builder_class(name: str) -> type[FeatureBuilder[Any]]:
    return resolve(REGISTRY, name, f"features.builders.{name}: unknown builder")  # type: ignore[no-any-return]


def create_builder(name: str, params: dict[str, Any] | None, context: BuildContext) -> FeatureBuilder[Any]:
    """Instantiate a registered builder, validating its parameters (errors name the builder's key path)."""
    cls = builder_class(name)
    try:
        validated = cls.Params.model_validate(params or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = (
            "unknown key"
            if first["type"] == "extra_forbidden"
            else first["msg"].removeprefix("Value error, ")
        )
        key = f"features.builders.{name}" + (f".{where}" if where else "")
        raise ConfigError(f"{key}: {message}") from None
    return cls(validated, context)
