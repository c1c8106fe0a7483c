"""Compose the configured builders in order, fitted on the training span, with an on-disk cache.

The cache key is (hash of the panel frame, builder configs, train_end, seed, package and cache format
version), so a changed file, parameter or split point never returns stale features. An entry is derived
data: one that cannot be read back (a truncated copy, a full disk) or that another format version wrote is
rebuilt with a logged warning. Two runs sharing a cache folder take the entry's lock (`io.file_lock`): the
second waits for the first's build and reads it instead of building it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader import __version__
from gan_trader.errors import FeatureError
from gan_trader.features.base import Artifact, BuildContext, FeatureBuilder, create_builder
from gan_trader.io import FEATURE_CACHE_FORMAT, atomic_path, file_lock, format_version

log = logging.getLogger(__name__)


@dataclass
class FeatureSet:
    """The causal feature frame (panel columns + built columns, minus warm-up rows) and what builders made."""

    frame: pd.DataFrame
    columns: list[str]
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    from_cache: bool = False

    @property
    def features(self) -> pd.DataFrame:
        return self.frame[self.columns]


def frame_digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()


def constant_on_training(features: pd.DataFrame, train_end: pd.Timestamp) -> list[str]:
    """Columns that take one value on every training row: they carry nothing a model could learn from, and
    scaling them would divide by zero."""
    training = features.loc[:train_end]
    if training.empty:
        return []
    spread = training.max() - training.min()
    return [str(c) for c in features.columns if not spread[c] > 0]


class FeaturePipeline:
    """Runs builders in config order. Each builder sees the panel plus earlier builders' columns."""

    def __init__(
        self,
        builders: dict[str, dict[str, Any] | None],
        context: BuildContext,
        cache_dir: Path | None = None,
    ) -> None:
        self.specs = {name: dict(params or {}) for name, params in builders.items()}
        self.cache_dir = cache_dir
        # Validate every builder's parameters up front, before any work is done.
        self.builders: list[FeatureBuilder[Any]] = [
            create_builder(name, params, context) for name, params in self.specs.items()
        ]
        # Builders that read "stationary inputs" must know which earlier builders emit price levels.
        levels = tuple(b.name for b in self.builders if b.emits_levels)
        self.context = replace(context, level_builders=levels)
        for builder in self.builders:
            builder.context = self.context

    def cache_key(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> str:
        payload = {
            "data": frame_digest(frame),
            "builders": {b.name: b.params.model_dump(mode="json") for b in self.builders},
            "train_end": str(train_end),
            "seed": self.context.seed,
            "target": self.context.target,
            "target_kind": self.context.target_kind,
            "close_feature": self.context.close_feature,
            "equity_assets": list(self.context.equity_assets),
            "low_frequency_assets": list(self.context.low_frequency_assets),
            "news": str(self.context.news) if self.context.news else None,
            "version": __version__,
            "format": FEATURE_CACHE_FORMAT,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]

    def fit_transform(
        self, frame: pd.DataFrame, train_end: pd.Timestamp, use_cache: bool = True
    ) -> FeatureSet:
        """Fit every builder on rows <= train_end and return the causal features for all rows."""
        path = self._cache_path(frame, train_end) if use_cache else None
        if path is None:
            return self._build(frame, train_end)
        with file_lock(path):
            cached = self._load_cache(path)
            if cached is not None:
                return cached
            feature_set = self._build(frame, train_end)
            self._store_cache(path, feature_set)
            return feature_set

    def _build(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> FeatureSet:
        current = frame.copy()
        # Panel columns become features only through a builder (assets, technical...); the target's own
        # close only when features.target_close asks for it.
        built: list[str] = ["close"] if self.context.close_feature else []
        artifacts: list[Artifact] = []
        notes: list[str] = []
        selected: list[str] | None = None
        for builder in self.builders:
            # Selectors and reports judge the features built so far (and read the close for their labels).
            judged = built if "close" in built else [*built, "close"]
            visible = current if builder.kind == "features" else current[judged]
            output = builder.fit_transform(visible, train_end)
            artifacts += builder.artifacts
            for line in builder.notes:
                notes.append(line)
                log.info("feature builder %s", line)
            if builder.skipped:
                notes.append(f"{builder.name}: skipped ({builder.skipped})")
                log.info("feature builder %s skipped: %s", builder.name, builder.skipped)
                continue
            if builder.kind == "report":
                continue
            if builder.kind == "selector":
                selected = list(output.columns)
                continue
            clash = [c for c in output.columns if c in current.columns]
            if clash:
                raise FeatureError(f"features.builders.{builder.name}: column '{clash[0]}' already exists")
            current = pd.concat([current, output.reindex(current.index)], axis=1)
            built += list(output.columns)
        columns = selected if selected is not None else built
        # Drop the warm-up rows where some feature is not yet defined (long moving windows, lags).
        usable = current[columns].replace([np.inf, -np.inf], np.nan).notna().all(axis=1)
        if not usable.any():
            raise FeatureError(
                "no row has every feature defined; the data is shorter than the longest window"
            )
        first = usable.to_numpy().argmax()
        result = current.iloc[first:]
        if result.loc[:, columns].isna().to_numpy().any():
            bad_column = result.columns[result.loc[:, columns].isna().any()].tolist()[0]
            bad_row = result.index[result[bad_column].isna()][0]
            raise FeatureError(f"feature '{bad_column}' is missing at {bad_row.date()} after the warm-up")
        constant = constant_on_training(result[columns], train_end)
        for column in constant:
            line = f"feature '{column}' is constant on the training span: dropped"
            notes.append(line)
            log.info(line)
        columns = [c for c in columns if c not in constant]
        return FeatureSet(frame=result, columns=columns, artifacts=artifacts, notes=notes)

    # cache ---------------------------------------------------------------------------------------

    def _cache_path(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> Path | None:
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / f"{self.cache_key(frame, train_end)}.parquet"

    def _load_cache(self, path: Path) -> FeatureSet | None:
        """The entry at `path`; None when there is none, or (with a warning) when it cannot be read back or
        another format version wrote it: the caller rebuilds it."""
        if not path.exists():
            return None
        try:
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if format_version(meta) != FEATURE_CACHE_FORMAT:
                log.warning(
                    "feature cache: %s was written by another format version (%s); rebuilding it",
                    path,
                    format_version(meta),
                )
                return None
            artifacts = [
                Artifact(name=name, table=pd.read_parquet(path.with_suffix(f".{name}.parquet")))
                for name in meta["tables"]
            ]
            cached = FeatureSet(
                frame=pd.read_parquet(path),
                columns=list(meta["columns"]),
                artifacts=artifacts,
                notes=list(meta["notes"]),
                from_cache=True,
            )
            absent = [c for c in cached.columns if c not in cached.frame.columns]
            if absent:
                raise KeyError(f"column {absent[0]!r} is not in the frame")
        except Exception as exc:  # pyarrow and json raise many types for a damaged file
            log.warning(
                "feature cache: %s cannot be read back (%s: %s); rebuilding it",
                path,
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )
            return None
        return cached

    def _store_cache(self, path: Path, feature_set: FeatureSet) -> None:
        tables = [a for a in feature_set.artifacts if a.table is not None]
        for artifact in tables:
            with atomic_path(path.with_suffix(f".{artifact.name}.parquet")) as tmp:
                artifact.table.to_parquet(tmp)  # type: ignore[union-attr]
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(
                json.dumps(
                    {
                        "format": FEATURE_CACHE_FORMAT,
                        "columns": feature_set.columns,
                        "notes": feature_set.notes,
                        "tables": [a.name for a in tables],
                    }
                )
            )
        # The parquet file is written last: its presence marks a complete entry.
        with atomic_path(path) as tmp:
            feature_set.frame.to_parquet(tmp)
