"""XGBoost importance on the next-day target, selection, and the statistical checks report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gan_trader.errors import ConfigError, FeatureError
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.features.importance import next_day_target, training_design

ROWS = 600
TRAIN_END_ROW = 399


def synthetic(seed: int = 0) -> pd.DataFrame:
    """Tomorrow's return is driven by today's `signal.x`; `same_day.r` (today's return) does not help."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=ROWS)
    returns = np.concatenate([[0.0], 0.01 * signal[:-1] + 0.001 * rng.normal(size=ROWS - 1)])
    close = 50 * np.exp(np.cumsum(returns))
    index = pd.bdate_range("2010-01-04", periods=ROWS, name="date")
    return pd.DataFrame(
        {
            "close": close,
            "signal.x": signal,
            "same_day.r": returns,
            "noise.a": rng.normal(size=ROWS),
            "noise.b": rng.normal(size=ROWS),
        },
        index=index,
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic()


@pytest.fixture
def context() -> BuildContext:
    """The target's close is a feature here (features.target_close), as in the article's setup."""
    return BuildContext(target="TEST", seed=3, close_feature=True)


def test_labels_are_next_day_and_stay_inside_the_training_span(frame: pd.DataFrame) -> None:
    train_end = frame.index[TRAIN_END_ROW]
    features, label = training_design(frame, train_end, "log_return", "importance")
    assert features.index[-1] == frame.index[TRAIN_END_ROW - 1]  # its label is the close of train_end itself
    close = frame["close"]
    assert np.allclose(label, np.log(close.shift(-1) / close).loc[label.index])
    assert next_day_target(close, "price").iloc[10] == close.iloc[11]


def test_importance_finds_the_predictive_feature(
    frame: pd.DataFrame, context: BuildContext, tmp_path: Path
) -> None:
    builder = create_builder("importance", {}, context)
    output = builder.fit_transform(frame, frame.index[TRAIN_END_ROW])
    assert builder.kind == "selector"
    assert list(output.columns) == list(frame.columns), "no selection keeps every column"
    artifact = builder.artifacts[0]
    table = artifact.table
    assert table["feature"].iloc[0] == "signal.x"
    assert table.set_index("feature").loc["signal.x", "share"] > 0.5
    assert table["share"].sum() == pytest.approx(1.0)
    assert isinstance(artifact.figure, Figure)
    artifact.figure.savefig(tmp_path / "importance.png")
    assert (tmp_path / "importance.png").stat().st_size > 1000


def test_top_k_and_threshold_keep_the_target_close(frame: pd.DataFrame, context: BuildContext) -> None:
    train_end = frame.index[TRAIN_END_ROW]
    top = create_builder("importance", {"top_k": 1}, context).fit_transform(frame, train_end)
    assert list(top.columns) == ["close", "signal.x"]
    strict = create_builder("importance", {"threshold": 0.99}, context).fit_transform(frame, train_end)
    assert list(strict.columns) == ["close"]
    selected = create_builder("importance", {"threshold": 0.3}, context)
    assert list(selected.fit_transform(frame, train_end).columns) == ["close", "signal.x"]
    assert selected.table["selected"].sum() == 2


def test_the_close_is_read_for_labels_but_no_feature_unless_asked(frame: pd.DataFrame) -> None:
    train_end = frame.index[TRAIN_END_ROW]
    builder = create_builder("importance", {"top_k": 1}, BuildContext(target="TEST", seed=3))
    assert list(builder.fit_transform(frame, train_end).columns) == ["signal.x"]
    assert "close" not in set(builder.table["feature"])


def test_importance_price_target_and_bad_input(frame: pd.DataFrame) -> None:
    context = BuildContext(target="TEST", target_kind="price", close_feature=True)
    builder = create_builder("importance", {"n_estimators": 10}, context)
    builder.fit(frame, frame.index[TRAIN_END_ROW])
    # Tomorrow's price is today's price plus a little: the close dominates a price-level target.
    assert builder.table["feature"].iloc[0] == "close"
    with pytest.raises(ConfigError, match=r"features\.builders\.importance\.top_k"):
        create_builder("importance", {"top_k": 0}, context)
    with pytest.raises(
        FeatureError, match=r"features\.builders\.importance: needs the target column 'close'"
    ):
        builder.fit(frame.drop(columns="close"), frame.index[TRAIN_END_ROW])
    with pytest.raises(FeatureError, match=r"features\.builders\.importance: 9 training rows"):
        builder.fit(frame, frame.index[9])


def test_checks_report_detects_heteroskedasticity_and_collinearity(context: BuildContext) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=ROWS), rng.normal(size=ROWS)
    # Next-day return = 0.01 a_t with noise whose size grows with a_t: heteroskedastic by construction.
    returns = np.concatenate([[0.0], 0.01 * a[:-1] + 0.01 * np.exp(0.8 * a[:-1]) * rng.normal(size=ROWS - 1)])
    index = pd.bdate_range("2010-01-04", periods=ROWS, name="date")
    frame = pd.DataFrame(
        {
            "close": 50 * np.exp(np.cumsum(returns)),
            "f.a": a,
            "f.b": b,
            "f.sum": a + b + 1e-3 * rng.normal(size=ROWS),
            "f.c": rng.normal(size=ROWS),
        },
        index=index,
    )
    builder = create_builder("checks", {}, context)
    output = builder.fit_transform(frame, index[TRAIN_END_ROW])
    assert output.shape == (ROWS, 0) and output.index.equals(index)
    tests = builder.artifacts[0].table.set_index("test")
    assert tests.loc["breusch_pagan_lm", "p_value"] < 1e-3
    assert 1.5 < tests.loc["durbin_watson", "statistic"] < 2.5
    assert {"ljung_box_lag1", "ljung_box_lag5", "ljung_box_lag10"} <= set(tests.index)
    vif = builder.artifacts[1].table.set_index("feature")["vif"]
    assert vif["f.sum"] > 1000 and vif["f.a"] > 1000 and vif["f.b"] > 1000
    assert vif["f.c"] < 1.5
    assert builder.artifacts[0].metrics["checks/breusch_pagan_p"] < 1e-3


def test_checks_detect_serial_correlation(context: BuildContext) -> None:
    rng = np.random.default_rng(2)
    noise = np.zeros(ROWS)
    for t in range(1, ROWS):
        noise[t] = 0.8 * noise[t - 1] + rng.normal()
    returns = 0.01 * noise
    index = pd.bdate_range("2010-01-04", periods=ROWS, name="date")
    frame = pd.DataFrame(
        {"close": 50 * np.exp(np.cumsum(returns)), "f.x": rng.normal(size=ROWS)}, index=index
    )
    builder = create_builder("checks", {"lags": [1, 5], "vif": False}, context)
    builder.fit(frame, index[TRAIN_END_ROW])
    tests = builder.artifacts[0].table.set_index("test")
    assert tests.loc["durbin_watson", "statistic"] < 1.0
    assert tests.loc["ljung_box_lag5", "p_value"] < 1e-6
    assert len(builder.artifacts) == 1
    with pytest.raises(ConfigError, match=r"features\.builders\.checks\.lags"):
        create_builder("checks", {"lags": [0]}, context)
