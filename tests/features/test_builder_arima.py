"""ARIMA feature: parameters from the training span, forecasts from the fixed-parameter filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima.model import ARIMA

from gan_trader.errors import ConfigError, FeatureError
from gan_trader.features.arima import fit_arima
from gan_trader.features.base import BuildContext, create_builder

ORDER = (2, 1, 0)


@pytest.fixture(scope="module", params=["stationary", "level"])
def fitted(request, short_frame: pd.DataFrame, real_context: BuildContext):  # type: ignore[no-untyped-def]
    params = {"order": list(ORDER), "representation": request.param}
    builder = create_builder("arima", params, real_context)
    train_end = short_frame.index[249]
    return builder, builder.fit_transform(short_frame, train_end)


def modelled(builder, short_frame: pd.DataFrame) -> np.ndarray:  # type: ignore[no-untyped-def]
    """What the model is fitted to: the log close (stationary) or the close (level)."""
    close = short_frame["close"].to_numpy(float)
    return close if builder.params.representation == "level" else np.log(close)


def test_parameters_come_from_the_training_span(fitted, short_frame: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    builder, _ = fitted
    expected = ARIMA(modelled(builder, short_frame)[:250], order=ORDER).fit().params
    assert np.allclose(builder.estimate, expected, rtol=1e-6)
    table = builder.artifacts[0].table
    assert list(table["parameter"]) == ["ar.L1", "ar.L2", "sigma2"]


def test_feature_is_the_one_step_forecast_made_at_t(fitted, short_frame: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    builder, output = fitted
    series = modelled(builder, short_frame)
    for t in (100, 249, 250, 330, 399):
        # Independent route: statsmodels' own forecast from a model holding only rows <= t.
        expected = ARIMA(series[: t + 1], order=ORDER).filter(builder.estimate).forecast(1)[0]
        if builder.params.representation == "level":
            assert list(output.columns) == ["arima.forecast"]
            assert output["arima.forecast"].iloc[t] == pytest.approx(expected, rel=1e-9)
        else:
            # The predicted log return: the log close forecast for t+1 minus the log close at t.
            assert list(output.columns) == ["arima.forecast_log_return"]
            assert output["arima.forecast_log_return"].iloc[t] == pytest.approx(
                expected - series[t], abs=1e-9
            )


def test_refit_every_changes_only_later_forecasts(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    train_end = short_frame.index[249]
    fixed = create_builder("arima", {"order": list(ORDER)}, real_context).fit_transform(
        short_frame, train_end
    )
    builder = create_builder("arima", {"order": list(ORDER), "refit_every": 50}, real_context)
    refitted = builder.fit_transform(short_frame, train_end)
    assert np.allclose(fixed.iloc[:299], refitted.iloc[:299], equal_nan=True)
    assert not np.allclose(fixed.iloc[299:], refitted.iloc[299:])
    # The block starting at row 299 uses parameters estimated on rows <= 299.
    log_close = np.log(short_frame["close"].to_numpy(float))
    params = fit_arima(log_close[:300], ORDER, start_params=builder.estimate)
    expected = ARIMA(log_close[:321], order=ORDER).filter(params).forecast(1)[0] - log_close[320]
    assert refitted["arima.forecast_log_return"].iloc[320] == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_order_is_validated(real_context: BuildContext) -> None:
    with pytest.raises(ConfigError, match=r"features\.builders\.arima\.order: d=3 is out of range"):
        create_builder("arima", {"order": [5, 3, 0]}, real_context)
    with pytest.raises(ConfigError, match=r"features\.builders\.arima\.order: p=-1"):
        create_builder("arima", {"order": [-1, 1, 0]}, real_context)
    with pytest.raises(ConfigError, match=r"features\.builders\.arima\.refit_every"):
        create_builder("arima", {"refit_every": 0}, real_context)


def test_too_few_training_rows(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    builder = create_builder("arima", {}, real_context)
    with pytest.raises(
        FeatureError, match=r"features\.builders\.arima\.order: ARIMA\(5, 1, 0\) needs at least"
    ):
        builder.fit(short_frame, short_frame.index[10])
