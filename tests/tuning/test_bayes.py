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


def test_thirty_suggestions_register_no_duplicates(capsys: pytest.CaptureFixture[str]) -> None:
    """A small space (3 x 2 sets of its int and categorical) forces collisions; keep-style re-registrations
    of known points are kept apart; bayes_opt never sees (nor prints) a duplicate. No warning filters."""
    space = SearchSpace(
        {
            "strides": ParamSpec(type="int", low=1, high=3),
            "gan.critic.norm": ParamSpec(type="categorical", choices=["layer", "none"]),
            "lrelu_alpha": ParamSpec(type="float", low=0.0, high=0.3),
        }
    )
    optimizer = BayesOptimizer(space, init_points=2, seed=0)
    for step in range(30):
        suggestion = optimizer.suggest(("ucb", "explore", "local")[step % 3])
        value = (suggestion.params["lrelu_alpha"] - 0.1) ** 2 + suggestion.params["strides"]
        assert optimizer.register(suggestion.box, value, is_box=True)
        assert not optimizer.register(suggestion.params, value / 2)  # "keep": same point, more epochs
    registered = [
        tuple(sorted(space.from_box(optimizer._box_of(p)).items())) for p in optimizer._optimizer.space.params
    ]
    assert optimizer.observations == 30 and len(set(registered)) == 30
    assert optimizer._optimizer.space.n_duplicate_points == 0 and optimizer.skipped == 30
    assert "not unique" not in capsys.readouterr().out


def test_bo_beats_random_search_at_equal_evaluations() -> None:
    """On the smooth bowl, BO's best after 12 evaluations beats random search's, averaged over 3 seeds."""
    space = SearchSpace(SPECS)
    bo_best, random_best = [], []
    for seed in range(3):
        optimizer = BayesOptimizer(space, init_points=3, seed=seed)
        values = []
        for _ in range(12):
            suggestion = optimizer.suggest()
            values.append(objective(suggestion.params))
            optimizer.register(suggestion.box, values[-1], is_box=True)
        bo_best.append(min(values))
        rng = np.random.default_rng(seed)
        random_best.append(min(objective(space.sample(rng)) for _ in range(12)))
    assert np.mean(bo_best) < np.mean(random_best)


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


def test_warm_start_registers_a_set_logged_twice_once() -> None:
    """Racing trains the reference set on several seeds: the logged episodes repeat a set (with a log-scale
    value whose unit-cube round trip is not exact), and the optimiser registers it once, never a duplicate."""
    # lrelu_alpha 0.01 in [0.001, 0.3] comes back from the unit cube as 0.010000000000000002.
    space = SearchSpace({**SPECS, "lrelu_alpha": ParamSpec(type="float", low=0.001, high=0.3)})
    reference = {"batch_size": 32, "cnn_lr": 1e-3, "lrelu_alpha": 0.01}
    other = {"batch_size": 40, "cnn_lr": 3e-4, "lrelu_alpha": 0.2}
    observations = [(reference, 0.99), (other, 0.98), (dict(reference), 0.985), (dict(reference), 0.97)]
    optimizer = BayesOptimizer(space, init_points=0)
    assert optimizer.warm_start(observations) == 2
