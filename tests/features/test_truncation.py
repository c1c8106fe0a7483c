"""Truncation test (SPEC section 4 and 12): features up to day t do not depend on rows after t.

For every registered builder and for the whole pipeline, on real bundled data: fit on the same training span,
then compare the output up to a cut day t (after train_end) with the output when (a) the rows after t are
removed and (b) the rows after t are replaced by noise. Report builders' artifacts (tables) must agree too.
Two deliberately leaky builders (a centred window in `transform`, a scaler fitted on all rows) prove that the
machinery catches both kinds of leak.

`CASES` holds each builder's setup: parameters (small models for speed), extra BuildContext fields, builders
run before it (pca reads the autoencoder's columns), and a `setup` hook that can write files (news) into a
temporary folder and return extra context fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from news_files import write_generated_news

from gan_trader.features.base import (
    BUILDERS,
    BuildContext,
    BuilderParams,
    FeatureBuilder,
    create_builder,
)
from gan_trader.features.pipeline import FeaturePipeline

RTOL = 1e-9
ATOL = 1e-9


@dataclass
class Case:
    """How to run one builder in the truncation test."""

    params: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Called with (tmp_path, frame) before building; returns extra BuildContext fields (e.g. a news file).
    setup: Callable[[Path, pd.DataFrame], dict[str, Any]] | None = None
    # A reason this case cannot run yet: it is skipped with that reason, never passed silently.
    pending: str | None = None


def _news_around(folder: Path, frame: pd.DataFrame) -> Path:
    """Sentiment case: a headline on about half the days, from five days before the frame to five after."""
    days = pd.Timedelta(days=5)
    return write_generated_news(
        folder / "news.csv", frame.index[0] - days, frame.index[-1] + days, max_per_day=1, variants=12
    )


SMALL_AUTOENCODER = {"hidden": [16], "latent": 4, "epochs": 4, "batch_size": 64}

CASES: dict[str, Case] = {
    "technical": Case({"rsi": True, "atr": True, "obv": True}),
    # GARCH exercises parameters fitted on the training span and a filter run forward with them.
    "volatility": Case({"garch": True}),
    "assets": Case({"assets": ["JPM", "SP500", "WTI"]}),
    "fourier": Case({"window": 64, "components": [3, 6, 9, 30]}),
    # refit_every exercises the expanding-window refits after train_end, the riskiest path.
    "arima": Case({"order": [2, 1, 0], "refit_every": 30}),
    "autoencoder": Case({**SMALL_AUTOENCODER, "variational": True}, upstream={"technical": {}}),
    "pca": Case({"variance": 0.8}, upstream={"autoencoder": SMALL_AUTOENCODER}),
    "anomaly": Case({"hidden": [8], "latent": 2, "epochs": 4, "batch_size": 64}),
    # A generated news file over the frame's span (evenings and weekends included), no embedding cache:
    # each day's headlines are encoded as their own group, so later news cannot move earlier features.
    "sentiment": Case(
        {"steps": 100, "threads": 1}, setup=lambda folder, rows: {"news": _news_around(folder, rows)}
    ),
    "importance": Case({"n_estimators": 20, "top_k": 8}, upstream={"technical": {}, "assets": {}}),
    "checks": Case({"lags": [1, 5]}, upstream={"technical": {}, "assets": {"assets": ["JPM", "SP500"]}}),
}

PIPELINE_ORDER = (
    "technical",
    "volatility",
    "assets",
    "fourier",
    "arima",
    "autoencoder",
    "pca",
    "anomaly",
    "importance",
    "checks",
)


# ---------------------------------------------------------------------------------------------- machinery


@dataclass
class Built:
    """A builder's visible output and its artifact tables."""

    frame: pd.DataFrame
    tables: dict[str, pd.DataFrame]


BuildFunction = Callable[[pd.DataFrame, pd.Timestamp], Built]


def build_case(name: str, case: Case, context: BuildContext) -> BuildFunction:
    """(frame, train_end) -> Built: run the upstream builders, then `name`, as the pipeline would."""

    def build(frame: pd.DataFrame, train_end: pd.Timestamp) -> Built:
        current, built = frame.copy(), ["close"]
        for upstream, params in case.upstream.items():
            output = create_builder(upstream, params, context).fit_transform(current, train_end)
            current = pd.concat([current, output], axis=1)
            built += list(output.columns)
        builder = create_builder(name, case.params, context)
        visible = current if builder.kind == "features" else current[built]
        output = builder.fit_transform(visible, train_end)
        tables = {a.name: a.table for a in builder.artifacts if a.table is not None}
        return Built(output, tables)

    return build


def with_noise_after(frame: pd.DataFrame, cut: pd.Timestamp, seed: int = 123) -> pd.DataFrame:
    """The frame with every value after `cut` multiplied by random positive factors (prices stay positive)."""
    noisy = frame.copy()
    after = noisy.index > cut
    rng = np.random.default_rng(seed)
    factors = np.exp(rng.normal(0.0, 0.3, size=(int(after.sum()), frame.shape[1])))
    noisy.loc[after] = frame.loc[after].to_numpy(float) * factors
    return noisy


def first_difference(reference: pd.DataFrame, other: pd.DataFrame, cut: pd.Timestamp) -> str | None:
    """Where `other` differs from `reference` on rows <= cut (None when they agree)."""
    left, right = reference.loc[:cut], other.loc[:cut]
    if list(left.columns) != list(right.columns):
        return f"columns differ: {list(left.columns)[:5]}... vs {list(right.columns)[:5]}..."
    if not left.index.equals(right.index):
        return f"rows differ: {len(left)} vs {len(right)} rows up to {cut.date()}"
    a, b = left.to_numpy(float), right.to_numpy(float)
    same = np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
    if same.all():
        return None
    row, column = np.argwhere(~same)[0]
    return f"{left.columns[column]} at {left.index[row].date()}: {a[row, column]!r} vs {b[row, column]!r}"


def table_difference(reference: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]) -> str | None:
    if set(reference) != set(other):
        return f"artifact tables differ: {sorted(reference)} vs {sorted(other)}"
    for name, table in reference.items():
        try:
            pd.testing.assert_frame_equal(table, other[name], rtol=1e-7, check_exact=False)
        except AssertionError as exc:
            return f"artifact '{name}' differs: {str(exc).splitlines()[0]}"
    return None


def truncation_problems(
    build: BuildFunction, frame: pd.DataFrame, train_end: pd.Timestamp, cut: pd.Timestamp
) -> list[str]:
    """Run the full, truncated and noise-after-cut variants; return every disagreement up to `cut`."""
    assert train_end < cut < frame.index[-1], "the cut must lie after train_end and before the last row"
    full = build(frame, train_end)
    problems = []
    for label, variant in (("truncated", frame.loc[:cut]), ("noise after cut", with_noise_after(frame, cut))):
        other = build(variant, train_end)
        difference = first_difference(full.frame, other.frame, cut) or table_difference(
            full.tables, other.tables
        )
        if difference:
            problems.append(f"{label}: {difference}")
    return problems


# ---------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def frame(short_frame: pd.DataFrame) -> pd.DataFrame:
    return short_frame


@pytest.fixture(scope="module")
def points(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """train_end at row 250 of 400, the cut 70 rows later (inside what would be validation)."""
    return frame.index[249], frame.index[319]


def test_every_registered_builder_has_a_case() -> None:
    assert set(CASES) == set(BUILDERS)


@pytest.mark.parametrize("name", BUILDERS)
def test_builder_is_causal(
    name: str,
    frame: pd.DataFrame,
    points: tuple[pd.Timestamp, pd.Timestamp],
    real_context: BuildContext,
    tmp_path: Path,
) -> None:
    case = CASES[name]
    if case.pending:
        pytest.skip(case.pending)
    extra = dict(case.context)
    if case.setup is not None:
        extra.update(case.setup(tmp_path, frame))
    context = replace(real_context, **extra)
    train_end, cut = points
    built = build_case(name, case, context)(frame, train_end)
    assert len(built.frame) == len(frame)
    if create_builder(name, case.params, context).kind != "report":
        assert built.frame.loc[:cut].notna().any().all(), "every column should have values before the cut"
    else:
        assert built.tables, "a report builder must produce its tables"
    assert truncation_problems(build_case(name, case, context), frame, train_end, cut) == []


def test_pipeline_is_causal(
    frame: pd.DataFrame, points: tuple[pd.Timestamp, pd.Timestamp], real_context: BuildContext
) -> None:
    builders = {name: CASES[name].params for name in PIPELINE_ORDER}

    def build(rows: pd.DataFrame, train_end: pd.Timestamp) -> Built:
        feature_set = FeaturePipeline(builders, real_context).fit_transform(rows, train_end, use_cache=False)
        tables = {a.name: a.table for a in feature_set.artifacts if a.table is not None}
        return Built(feature_set.frame[feature_set.columns], tables)

    train_end, cut = points
    built = build(frame, train_end)
    assert {"feature_importance", "checks", "checks_vif"} <= set(built.tables)
    # top_k 8 of the built columns; the target's close is no feature unless features.target_close asks
    assert "close" not in built.frame.columns and len(built.frame.columns) == 8
    assert truncation_problems(build, frame, train_end, cut) == []


# ---------------------------------------------------------------------------------------------- controls


class CentredAverage(FeatureBuilder[BuilderParams]):
    """Leaky on purpose: a centred moving average reads two rows ahead."""

    name: ClassVar[str] = "centred"
    Params = BuilderParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> CentredAverage:
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"centred.ma5": frame["close"].rolling(5, center=True).mean()}, index=frame.index)


class WholeSpanScaler(FeatureBuilder[BuilderParams]):
    """Leaky on purpose: the original's scaler, fitted on every row instead of the training span."""

    name: ClassVar[str] = "whole_span"
    Params = BuilderParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> WholeSpanScaler:
        self.mean, self.std = frame["close"].mean(), frame["close"].std()
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"whole_span.z": (frame["close"] - self.mean) / self.std}, index=frame.index)


@pytest.mark.parametrize("leaky", [CentredAverage, WholeSpanScaler])
def test_machinery_catches_leaky_builders(
    leaky: type[FeatureBuilder[BuilderParams]],
    frame: pd.DataFrame,
    points: tuple[pd.Timestamp, pd.Timestamp],
    real_context: BuildContext,
) -> None:
    def build(rows: pd.DataFrame, train_end: pd.Timestamp) -> Built:
        return Built(leaky(BuilderParams(), real_context).fit_transform(rows, train_end), {})

    train_end, cut = points
    problems = truncation_problems(build, frame, train_end, cut)
    assert len(problems) == 2, problems  # both the truncated and the noisy variant expose it
    with pytest.raises(AssertionError):
        assert truncation_problems(build, frame, train_end, cut) == []


def test_machinery_catches_a_leaky_report_table(
    frame: pd.DataFrame, points: tuple[pd.Timestamp, pd.Timestamp]
) -> None:
    """A report whose table reads all rows is caught through its artifact, not its (empty) columns."""

    def build(rows: pd.DataFrame, train_end: pd.Timestamp) -> Built:
        return Built(
            pd.DataFrame(index=rows.index), {"stats": pd.DataFrame({"mean": [rows["close"].mean()]})}
        )

    train_end, cut = points
    assert len(truncation_problems(build, frame, train_end, cut)) == 2
