"""The feature benchmarks run and report what they measure (timings are never asserted in tests)."""

from __future__ import annotations

import pytest

from gan_trader.bench.features import bench_arima, bench_pipeline


@pytest.mark.slow
def test_bench_arima_reports_a_ratio() -> None:
    (result,) = bench_arima(quick=True)
    assert result.name == "features/arima_speedup" and result.unit == "x"
    assert result.ratio == result.value and result.ratio > 0
    assert len(result.details["refit_seconds_sampled"]) == 4
    assert result.details["forecast_days"] > 1000
    # The daily refits and the fixed-parameter filter forecast nearly the same prices.
    assert result.details["mean_abs_forecast_difference"] < 1.0


@pytest.mark.slow
def test_bench_pipeline_reports_time_and_growth() -> None:
    bundled, growth = bench_pipeline(quick=True)
    assert bundled.name == "features/pipeline_bundled" and bundled.unit == "s"
    assert "sentiment" not in bundled.details["builders"]
    assert set(bundled.details["builders_seconds"]) == set(bundled.details["builders"])
    assert growth.name == "features/pipeline_growth"
    assert set(growth.details["seconds_per_1k_days"]) == {"1000", "2000"}
