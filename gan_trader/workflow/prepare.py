"""Prepare an experiment's data: panel -> split -> causal features -> forecast task.

Everything fitted downstream (feature builders, scalers, models) sees rows up to the split's train_end for
fitting; validation rows are used only for early stopping, calibration and the tuning objective.
"""

from __future__ import annotations

from dataclasses import dataclass

from gan_trader.config import ExperimentConfig
from gan_trader.data.panel import Panel, build_panel
from gan_trader.data.splits import Split, make_split, walk_forward_splits
from gan_trader.features.base import BuildContext
from gan_trader.features.pipeline import FeaturePipeline, FeatureSet
from gan_trader.models.base import ForecastTask


@dataclass
class Prepared:
    config: ExperimentConfig
    panel: Panel
    split: Split
    features: FeatureSet
    task: ForecastTask


def build_context(config: ExperimentConfig, panel: Panel) -> BuildContext:
    return BuildContext(
        target=config.data.target,
        seed=config.seed,
        target_kind=config.gan.target,
        news=config.data.news,
        news_timezone=config.data.news_timezone,
        cache_dir=config.features.cache_dir,
        asset_columns=tuple(panel.asset_columns),
        equity_assets=tuple(panel.assets_of_class("equity")),
        low_frequency_assets=tuple(panel.assets_of_class("macro")),
        close_feature=config.features.target_close,
    )


def feature_pipeline(config: ExperimentConfig, panel: Panel) -> FeaturePipeline:
    """Validate every builder's parameters (before any file is written) and return the pipeline."""
    return FeaturePipeline(config.features.builders, build_context(config, panel), config.features.cache_dir)


def load_panel(config: ExperimentConfig) -> Panel:
    # Enough rows for three spans of windows; the split check below names the short span precisely.
    return build_panel(config.data, min_rows=3 * (config.gan.seq_len + 2))


def fold_splits(config: ExperimentConfig, panel: Panel) -> list[Split]:
    """The walk-forward folds (one fold: the chronological split) on the panel's calendar."""
    return walk_forward_splits(panel.frame.index, config.split, min_rows=config.gan.seq_len + 2)


def prepare(
    config: ExperimentConfig,
    panel: Panel | None = None,
    split: Split | None = None,
    use_cache: bool = True,
) -> Prepared:
    """Build the forecast task for one split (default: the chronological split of the config)."""
    panel = panel or load_panel(config)
    split = split or make_split(panel.frame.index, config.split, min_rows=config.gan.seq_len + 2)
    pipeline = feature_pipeline(config, panel)
    feature_set = pipeline.fit_transform(panel.frame, split.train_end, use_cache=use_cache)
    task = ForecastTask(
        panel=panel,
        features=feature_set.features,
        split=split,
        seed=config.seed,
        target_kind=config.gan.target,
        seq_len=config.gan.seq_len,
    )
    return Prepared(config=config, panel=panel, split=split, features=feature_set, task=task)
