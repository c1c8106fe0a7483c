from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, load_forecast, save_forecast


def test_forecast_round_trip(tmp_path: Path) -> None:
    origins = pd.bdate_range("2020-01-01", periods=4)
    forecast = Forecast(
        "gan",
        origins,
        origins + pd.offsets.BDay(1),
        np.array([0.01, -0.02, 0.0, 0.005]),
        np.array([10.0, 11.0, 12.0, 13.0]),
        np.arange(8.0).reshape(4, 2),
        {"hold_days": 5, "signal": np.ones(4), "nested": {"not": "stored"}},
    )
    save_forecast(forecast, tmp_path / "f.npz")
    loaded = load_forecast(tmp_path / "f.npz")
    assert loaded.model == "gan"
    assert loaded.origins.equals(forecast.origins) and loaded.target_dates.equals(forecast.target_dates)
    np.testing.assert_array_equal(loaded.log_return, forecast.log_return)
    np.testing.assert_array_equal(loaded.samples, forecast.samples)
    assert loaded.extra["hold_days"] == 5 and "nested" not in loaded.extra
    assert not list(tmp_path.glob(".*tmp"))
