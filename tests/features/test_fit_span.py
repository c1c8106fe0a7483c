"""Fit span (SPEC section 4): nothing a builder fits sees a row after `train_end`, not even the next one.

The truncation test cuts 70 rows after train_end, so a fit that read the rows between train_end and the cut
would pass it. Here every builder (with the builders it reads run before it, as in the pipeline) is fitted
twice: on the frame, and on the frame whose every row from train_end + 1 on is replaced by noise. Both fits
then transform the *same* original frame; any difference can only come from what the fit saw after
train_end. A scaler fitted one row too far is the control that must fail.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from test_truncation import CASES, Case, first_difference, table_difference, with_noise_after

from gan_trader.features.base import BUILDERS, BuildContext, BuilderParams, FeatureBuilder, create_builder


def fitted_on(
    name: str, case: Case, context: BuildContext, fit_rows: pd.DataFrame, train_end: pd.Timestamp
) -> tuple[list[FeatureBuilder[Any]], FeatureBuilder[Any]]:
    """The upstream builders and `name`, each fitted on `fit_rows` (as the pipeline chains them)."""
    current, built, upstream = fit_rows.copy(), ["close"], []
    for upstream_name, params in case.upstream.items():
        builder = create_builder(upstream_name, params, context).fit(current, train_end)
        output = builder.transform(current)
        current = pd.concat([current, output], axis=1)
        built += list(output.columns)
        upstream.append(builder)
    builder = create_builder(name, case.params, context)
    visible = current if builder.kind == "features" else current[built]
    return upstream, builder.fit(visible, train_end)


def applied_to(
    upstream: list[FeatureBuilder[Any]], builder: FeatureBuilder[Any], rows: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Transform `rows` with already-fitted builders; the builder's output and its artifact tables."""
    current, built = rows.copy(), ["close"]
    for step in upstream:
        output = step.transform(current)
        current = pd.concat([current, output], axis=1)
        built += list(output.columns)
    visible = current if builder.kind == "features" else current[built]
    tables = {a.name: a.table for a in builder.artifacts if a.table is not None}
    return builder.transform(visible), tables


@pytest.fixture(scope="module")
def train_end(short_frame: pd.DataFrame) -> pd.Timestamp:
    return short_frame.index[249]


def fit_span_problem(
    name: str, case: Case, context: BuildContext, frame: pd.DataFrame, train_end: pd.Timestamp
) -> str | None:
    noisy = with_noise_after(frame, train_end)
    assert noisy.loc[train_end:].iloc[1].ne(frame.loc[train_end:].iloc[1]).any(), "the next row must change"
    clean_fit = fitted_on(name, case, context, frame, train_end)
    noisy_fit = fitted_on(name, case, context, noisy, train_end)
    clean_out, clean_tables = applied_to(*clean_fit, frame)
    noisy_out, noisy_tables = applied_to(*noisy_fit, frame)
    return first_difference(clean_out, noisy_out, frame.index[-1]) or table_difference(
        clean_tables, noisy_tables
    )


# Sentiment fits on headlines, not on the frame's values: its fit span is held by the headline tests
# (tests/sentiment, tests/features/test_sentiment_builder.py); here it runs with the slow tests.
NAMES = [pytest.param(n, marks=pytest.mark.slow) if n == "sentiment" else n for n in BUILDERS]


@pytest.mark.parametrize("name", NAMES)
def test_builder_fits_on_the_training_span_only(
    name: str, short_frame: pd.DataFrame, train_end: pd.Timestamp, real_context: BuildContext, tmp_path: Path
) -> None:
    case = CASES[name]
    if case.pending:
        pytest.skip(case.pending)
    extra = dict(case.context)
    if case.setup is not None:
        extra.update(case.setup(tmp_path, short_frame))
    context = replace(real_context, **extra)
    assert fit_span_problem(name, case, context, short_frame, train_end) is None


class OneRowTooFar(FeatureBuilder[BuilderParams]):
    """Leaky on purpose: its scaler sees train_end and the day after."""

    name: ClassVar[str] = "one_row_too_far"
    Params = BuilderParams

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> OneRowTooFar:
        position = frame.index.get_loc(train_end)
        rows = frame["close"].iloc[: position + 2]
        self.mean, self.std = rows.mean(), rows.std()
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"leak.z": (frame["close"] - self.mean) / self.std}, index=frame.index)


def test_the_check_catches_a_fit_one_row_too_far(
    short_frame: pd.DataFrame, train_end: pd.Timestamp, real_context: BuildContext
) -> None:
    def fit(rows: pd.DataFrame) -> OneRowTooFar:
        return OneRowTooFar(BuilderParams(), real_context).fit(rows, train_end)

    clean, noisy = fit(short_frame), fit(with_noise_after(short_frame, train_end))
    difference = first_difference(
        clean.transform(short_frame), noisy.transform(short_frame), short_frame.index[-1]
    )
    assert difference is not None and "leak.z" in difference
