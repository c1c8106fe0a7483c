"""Bayesian optimisation: suggestions inside the box, registration, saved/restored state, warm start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_trader.config import ParamSpec
from gan_trader.tuning.bayes import BayesOptimizer, logged_observations
from gan_trader.tuning.space import SearchSpace

SPECS = {
    "batch_size": ParamSpec(type="int", low=16, high=64),
    "cnn_lr": ParamSpec(type="log_float", low=1e-5, high=1e-2),
    "lrelu_alpha": ParamSpec(type="float", low=0.0, high=0.3),
}


def objective(params: dict) -> float:
    """A smooth bowl with its minimum at lrelu_alpha 0.1, cnn_lr 1e-3."""
    return (params["lrelu_alpha"] - 0.1) ** 2 + 0.01 * (np.log10(params["cnn_lr"]) + 3) ** 2


def test_suggestions_stay_in_range_and_improve() -> None:
    space = SearchSpace(SPECS)
    optimizer = BayesOptimizer(space, kappa=2.5, init_points=2, seed=3)
    seen = []
    for _ in range(6):
        suggestion = optimizer.suggest()
        params = suggestion.params
        assert 16 <= params["batch_size"] <= 64 and isinstance(params["batch_size"], int)
        assert 1e-5 <= params["cnn_lr"] <= 1e-2 and 0.0 <= params["lrelu_alpha"] <= 0.3
        value = objective(params)
        optimizer.register(suggestion.box, value, is_box=True)
        seen.append(value)
    assert [s.source for s in [optimizer.suggest()]] == ["ucb"]
    best_params, best_value = optimizer.best()
    assert best_value == pytest.approx(min(seen))
    assert optimizer.observations == 6


def test_batch_suggestions_are_distinct() -> None:
    space = SearchSpace(SPECS)
    optimizer = BayesOptimizer(space, init_points=0, seed=0)
    first = optimizer.suggest()
    optimizer.register(first.box, objective(first.params), is_box=True)
    batch = optimizer.suggest_batch(2)
    assert batch[0].box != batch[1].box  # the constant liar keeps parallel slots apart


def test_failed_points_register_as_worst(tmp_path: Path) -> None:
    space = SearchSpace(SPECS)
    optimizer = BayesOptimizer(space, seed=1)
    a, b = optimizer.suggest_batch(2)
    optimizer.register(a.box, float("inf"), is_box=True)  # nothing finite yet: not registered
    assert optimizer.observations == 0
    optimizer.register(b.box, 0.5, is_box=True)
    optimizer.register(a.box, float("nan"), is_box=True)
    assert optimizer.observations == 2
    assert optimizer.best()[1] == pytest.approx(0.5)


def test_state_round_trip(tmp_path: Path) -> None:
    space = SearchSpace(SPECS)
    optimizer = BayesOptimizer(space, init_points=1, seed=5)
    for _ in range(3):
        suggestion = optimizer.suggest()
        optimizer.register(suggestion.box, objective(suggestion.params), is_box=True)
    optimizer.save(tmp_path / "optimizer.json")
    restored = BayesOptimizer.load(space, tmp_path / "optimizer.json")
    assert restored.observations == 3 and restored.suggested == 3
    assert restored.suggest().box == pytest.approx(optimizer.suggest().box)


def test_load_rejects_another_space(tmp_path: Path) -> None:
    from gan_trader.errors import TuningError

    optimizer = BayesOptimizer(SearchSpace(SPECS))
    optimizer.save(tmp_path / "optimizer.json")
    other = SearchSpace({"dropout": ParamSpec(type="float", low=0, high=0.5)})
    with pytest.raises(TuningError, match="saved optimiser has dimensions"):
        BayesOptimizer.load(other, tmp_path / "optimizer.json")


def test_warm_start_from_logged_episodes(tmp_path: Path, store: Path, experiment: str) -> None:
    from gan_trader.config import TrackingConfig
    from gan_trader.tracking.store import open_recorder

    recorder = open_recorder(
        TrackingConfig(uri=f"sqlite:///{store / 'mlflow.db'}", artifact_root=tmp_path / "artifacts"),
        experiment,
    )
    space = SearchSpace(SPECS)
    session = recorder.start_session("earlier")
    points = [
        {"batch_size": 32, "cnn_lr": 1e-3, "lrelu_alpha": 0.1},
        {"batch_size": 48, "cnn_lr": 1e-4, "lrelu_alpha": 0.25},
    ]
    for index, params in enumerate(points):
        with recorder.episode(session, index, {"hp": params}) as run_id:
            recorder.log_metrics(run_id, {"val/mae": objective(params)})
    with recorder.episode(
        session, 2, {"hp": {"batch_size": 1000, "cnn_lr": 1e-3, "lrelu_alpha": 0.1}}
    ) as run_id:
        recorder.log_metrics(run_id, {"val/mae": 0.0})  # outside today's space: ignored
    found = logged_observations(recorder, space, "val/mae")
    assert sorted(v for _, v in found) == pytest.approx(sorted(objective(p) for p in points))
    assert logged_observations(recorder, space, "val/mae", exclude_session=session) == []
    optimizer = BayesOptimizer(space, init_points=0)
    assert optimizer.warm_start(found) == 2
    assert optimizer.suggest().source == "ucb"  # already informed: no random initial design needed
