"""A session's selection report: DSR and PBO over the episodes' validation backtests, n/a below ten."""

from __future__ import annotations

import numpy as np
from test_leaderboard_wiring import synthetic_task

from gan_trader.config import ExperimentConfig
from gan_trader.models.base import Forecast
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.workflow.selection import session_selection, validation_returns


def episodes(task, count: int, skilled: int | None = None) -> list[EpisodeResult]:
    origins = task.origins("val")
    truth = task.next_day_returns().loc[origins].to_numpy()
    rng = np.random.default_rng(4)
    found = []
    for index in range(count):
        values = rng.normal(0, 0.01, len(origins)) + (1.0 * truth if index == skilled else 0.0)
        forecast = Forecast.from_returns("gan", task, origins, values)
        found.append(EpisodeResult(index, "FINISHED", None, {}, val_forecast=forecast))
    return found


def test_too_few_episodes_give_na() -> None:
    task = synthetic_task()
    tried = episodes(task, 4)
    report = session_selection(task, tried, tried[0], ExperimentConfig())
    assert report.episodes == 4 and report.deflated_sharpe is None and report.pbo is None
    assert "n/a (too few episodes)" in report.describe()


def test_a_lucky_pick_among_noise_is_deflated_and_a_real_edge_is_not() -> None:
    task = synthetic_task()
    config = ExperimentConfig()
    noise = episodes(task, 12)
    returns = validation_returns(task, noise, config)
    assert returns.shape[1] == 12 and len(returns) == len(task.origins("val"))
    luckiest = noise[int(np.argmax(returns.mean() / returns.std()))]
    lucky = session_selection(task, noise, luckiest, config)
    assert lucky.deflated_sharpe is not None and lucky.deflated_sharpe < 0.5
    assert lucky.pbo is not None and lucky.pbo >= 0.3
    with_edge = episodes(task, 12, skilled=5)
    real = session_selection(task, with_edge, with_edge[5], config)
    assert real.deflated_sharpe is not None and real.deflated_sharpe > 0.95
    assert real.pbo is not None and real.pbo < 0.1
