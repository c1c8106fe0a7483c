"""The drift diagnostic flags a price level and passes stationary features; the bundled features stay in
range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.config import load_config
from gan_trader.data.splits import Split
from gan_trader.evaluation.drift import WARN_SHARE, drift_report, fold_drift
from gan_trader.workflow.prepare import fold_splits, load_panel, prepare


def planted(days: int = 1200, seed: int = 0) -> tuple[pd.DataFrame, list[Split]]:
    """A trending price level beside a stationary return and an exactly known outlier pattern."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2005-01-03", periods=days)
    returns = 0.01 * rng.standard_normal(days) + 0.0008
    features = pd.DataFrame(
        {"level.close": 50 * np.exp(np.cumsum(returns)), "stationary.return": returns}, index=index
    )
    splits = [
        Split(index[599], index[799], index[999], fold=0),
        Split(index[799], index[999], index[1199], fold=1),
    ]
    return features, splits


def test_a_planted_level_is_flagged_and_a_return_is_not() -> None:
    features, splits = planted()
    report = drift_report([(features, split) for split in splits])
    table = report.table
    assert table.index[0] == "level.close"
    assert table.loc["level.close", "pooled_test"] > 0.9
    assert table.loc["stationary.return", "pooled_test"] < 0.05
    assert report.flagged() == ["level.close"]
    assert "level.close" in (report.warning() or "") and "stationary.return" not in (report.warning() or "")
    metrics = report.metrics()
    assert metrics["drift/features_over_bound"] == 1.0 and metrics["drift/max_pooled_test_share"] > 0.9


def test_shares_are_counted_against_each_fold_s_own_training_quantiles() -> None:
    index = pd.bdate_range("2010-01-04", periods=300)
    values = np.concatenate(
        [np.arange(200) % 100, [150.0] * 50, [50.0] * 50]
    )  # train 0..99, val 150, test 50
    features = pd.DataFrame({"x": values}, index=index)
    split = Split(index[199], index[249], index[299])
    counts = fold_drift(features, split)
    assert counts.loc["x", "val_outside"] == 50 and counts.loc["x", "test_outside"] == 0
    pooled = drift_report([(features, split)]).table
    assert pooled.loc["x", "pooled_val"] == 1.0 and pooled.loc["x", "pooled_test"] == 0.0


@pytest.fixture(scope="module")
def default_drift():  # type: ignore[no-untyped-def]
    """The default experiment's features on its three folds (the bundled data), minus the slow builders."""
    config = load_config("experiments/default.yaml", ["features.cache_dir=null"])
    config.features.builders = {
        k: v for k, v in config.features.builders.items() if k not in ("importance", "checks")
    }
    panel = load_panel(config)
    folds = [prepare(config, panel, split, use_cache=False) for split in fold_splits(config, panel)]
    return drift_report([(p.task.features, p.split) for p in folds])


@pytest.mark.slow
def test_no_feature_of_the_default_experiment_drifts_beyond_the_bound(default_drift) -> None:  # type: ignore[no-untyped-def]
    table = default_drift.table
    assert len(table) > 20
    per_builder = table.groupby(table.index.str.split(".").str[0])["pooled_test"].max()
    assert (per_builder <= WARN_SHARE).all(), per_builder.to_dict()
    assert default_drift.flagged() == []
