"""A logged experiment read back as frames: its leaderboard, folds, and per-day CRPS by model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from study_files import write_prices

from gan_trader.config import dump_config, load_config
from gan_trader.models.base import save_forecast
from gan_trader.models.baselines import run_baselines
from gan_trader.models.scoring import crps_fair, realised_returns
from gan_trader.tracking import tags
from gan_trader.tracking.store import open_recorder
from gan_trader.workflow.prepare import prepare
from gan_trader.workflow.results import open_experiment


def test_open_experiment_gives_tables_and_per_day_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_prices(tmp_path / "prices")
    monkeypatch.chdir(tmp_path)
    config = load_config(
        None,
        [
            "name=logged",
            "data.target=SYN_A",
            "data.prices_dir=prices",
            "features.builders={volatility: {}}",
            "features.cache_dir=null",
        ],
    )
    prepared = prepare(config)
    forecasts = run_baselines(["persistence", "gauss_60d", "garch_t"], prepared.task, seed=0)
    recorder = open_recorder(config.tracking, config.experiment_name)
    session = recorder.start_session("logged", tags={tags.KIND_TAG: "session"})
    for forecast in forecasts:
        path = tmp_path / "out" / f"{forecast.model}.npz"
        save_forecast(forecast, path)
        recorder.log_artifact(session, path, "forecasts")
    recorder.log_text(session, dump_config(config), "config.yaml")
    recorder.log_text(session, "model,crps_rel\ngauss_60d,1.0\ngarch_t,0.99\n", "leaderboard.csv")
    recorder.finish(session)

    run = open_experiment(tracking_uri=config.tracking.uri)
    assert run.session_id == session
    assert run.leaderboard.loc["garch_t", "crps_rel"] == 0.99
    assert run.folds is None
    per_day = run.per_day()
    assert set(per_day.columns) == {"gauss_60d", "garch_t"}  # persistence gives no distribution
    garch = next(f for f in forecasts if f.model == "garch_t")
    expected = crps_fair(realised_returns(prepared.task, garch), np.asarray(garch.samples))
    assert np.allclose(per_day["garch_t"].to_numpy(), expected)
    assert (per_day.index == garch.target_dates).all()
