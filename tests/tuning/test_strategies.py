"""Strategies and sessions with a cheap deterministic GAN stand-in (the real GAN: test_episode.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tuning_doubles import fake_episode, fake_result, tiny_config

from gan_trader.errors import TrackingError, TuningError
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import BEST_EPISODE_TAG, BEST_RUN_TAG
from gan_trader.tuning.agents import Policy, load_or_train_policy, policy_path
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import LocalExecutor
from gan_trader.tuning.session import run_session
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies import Strategy, TuningSession, config_hyperparameters
from gan_trader.workflow.compare import compare_strategies


def _session(tmp_path: Path, task, strategy: str, *extra: str, episodes: int = 3, store: Path, name: str):
    config = tiny_config(tmp_path, *extra, store=store)
    recorder = open_recorder(config.tracking, name)
    result = run_session(
        config,
        task,
        recorder,
        strategy=strategy,
        episodes=episodes,
        executor=LocalExecutor(1, fake_episode),
        quiet=True,
    )
    return config, recorder, result


@pytest.mark.parametrize("strategy", ["fixed", "random", "bo"])
def test_strategy_runs_logged_episodes(tmp_path: Path, tiny_task, strategy: str, store, experiment) -> None:
    config, recorder, result = _session(tmp_path, tiny_task, strategy, store=store, name=experiment)
    assert [e.index for e in result.episodes] == [0, 1, 2]
    assert all(e.ok for e in result.episodes) and result.epochs_spent == 3
    table = result.table()
    assert table["best_val"].is_monotonic_decreasing
    runs = recorder.runs(kind="episode")
    assert len(runs) == 3 and all(r.status == "FINISHED" for r in runs)
    assert all("tune/reward" in r.metrics and "test/persistence_mae" in r.metrics for r in runs)
    session = recorder.run(result.session_id)
    assert session.status == "FINISHED" and session.tags[BEST_RUN_TAG] == result.best.run_id
    assert session.tags[BEST_EPISODE_TAG] == str(result.best.index)
    if strategy == "fixed":
        expected = config_hyperparameters(config, SearchSpace(config.tuning.space).names)
        assert all(e.hyperparameters == expected for e in result.episodes)
        assert expected["filters"] == config.gan.critic.filters[0]
    else:
        assert len({e.hyperparameters["lrelu_alpha"] for e in result.episodes}) == 3


def test_non_finite_episode_fails_and_the_session_goes_on(
    tmp_path: Path, tiny_task, store, experiment
) -> None:
    # The stand-in's losses turn NaN when lr_g > 0.1: every fixed episode fails, the session finishes.
    _, recorder, result = _session(
        tmp_path, tiny_task, "fixed", "gan.lr_g=0.5", episodes=2, store=store, name=experiment
    )
    assert [e.status for e in result.episodes] == ["FAILED", "FAILED"]
    assert "non-finite train/loss" in result.episodes[0].reason and result.best is None
    runs = recorder.runs(kind="episode")
    assert {r.status for r in runs} == {"FAILED"}
    assert all("non-finite" in r.failure for r in runs)
    assert result.epochs_spent == 2  # a crash before its first epoch still costs one


def test_epoch_budget_caps_the_session(tmp_path: Path, tiny_task, store, experiment) -> None:
    _, _, result = _session(
        tmp_path, tiny_task, "random", "tuning.budget_epochs=2", episodes=10, store=store, name=experiment
    )
    assert len(result.episodes) == 2 and result.epochs_spent == 2


def test_rl_trains_a_proxy_policy_saves_and_reuses_it(tmp_path: Path, tiny_task, store, experiment) -> None:
    config = tiny_config(tmp_path, "tuning.agent.train_steps=6", "tuning.agent.proxy_episodes=3", store=store)
    space = SearchSpace(config.tuning.space)
    policy = load_or_train_policy(config, tiny_task, space, runner=fake_result)
    path = policy_path(config)
    assert path.exists() and path.parent == config.runs_dir / "policies"
    reused = Policy.load("ppo", path, policy.model.observation_space.shape[0])
    obs = policy.model.observation_space.sample()
    assert reused.act(obs) == policy.act(obs)
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(
        config,
        tiny_task,
        recorder,
        strategy="rl",
        episodes=3,
        executor=LocalExecutor(1, fake_episode),
        quiet=True,
    )  # loads the saved policy
    assert 1 <= len(result.episodes) <= 3
    assert {e.action for e in result.episodes} <= {"new", "keep"}


@pytest.mark.parametrize("algo", ["dqn", "qrdqn"])
def test_value_based_agents_train_in_proxy_mode(tmp_path: Path, tiny_task, algo: str) -> None:
    config = tiny_config(
        tmp_path, f"tuning.agent.algo={algo}", "tuning.agent.train_steps=4", "tuning.agent.proxy_episodes=2"
    )
    policy = load_or_train_policy(config, tiny_task, SearchSpace(config.tuning.space), runner=fake_result)
    assert policy_path(config).name.endswith(f"-{algo}.zip")
    assert policy.act(policy.model.observation_space.sample()) in range(5)


def test_policies_are_kept_per_experiment_and_search_space(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, "name=trial one")
    assert policy_path(config).parent == config.runs_dir / "policies"
    assert policy_path(config).name.startswith("trial_one-") and policy_path(config).name.endswith("-ppo.zip")
    others = [
        tiny_config(tmp_path, "name=trial two"),
        tiny_config(tmp_path, "tuning.space={dropout: {type: float, low: 0, high: 0.3}}", "name=trial one"),
        tiny_config(tmp_path, "tuning.allow_stop=false", "name=trial one"),
    ]
    assert len({policy_path(c) for c in [config, *others]}) == 4
    assert policy_path(tiny_config(tmp_path, "name=trial one")) == policy_path(config)


def test_saved_policy_for_another_space_is_a_clear_error(tmp_path: Path, tiny_task) -> None:
    shared = f"tuning.agent.policy_path={tmp_path / 'shared.zip'}"
    config = tiny_config(tmp_path, "tuning.agent.train_steps=4", "tuning.agent.proxy_episodes=2", shared)
    load_or_train_policy(config, tiny_task, SearchSpace(config.tuning.space), runner=fake_result)
    smaller = tiny_config(tmp_path, "tuning.space={dropout: {type: float, low: 0, high: 0.3}}", shared)
    with pytest.raises(TuningError, match="tuning.agent.policy_path: .* observations of shape"):
        load_or_train_policy(smaller, tiny_task, SearchSpace(smaller.tuning.space))


def test_unknown_strategy_and_unknown_session(tmp_path: Path, tiny_task, store, experiment) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    with pytest.raises(TuningError, match="tuning.strategy: unknown strategy 'grid'"):
        run_session(config, tiny_task, recorder, strategy="grid", quiet=True)
    with pytest.raises(TrackingError, match="--resume nope: no saved session state"):
        run_session(config, tiny_task, recorder, resume="nope", quiet=True)
    with pytest.raises(TuningError, match="unknown strategy 'grid'"):
        compare_strategies(config, ["bo", "grid"], [0], 2, task=tiny_task)


def test_compare_strategies_at_equal_budget(tmp_path: Path, tiny_task, store, experiment) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    frame = compare_strategies(
        config,
        ["fixed", "random"],
        [0, 1],
        2,
        task=tiny_task,
        recorder=recorder,
        executor=LocalExecutor(1, fake_episode),
    )
    assert isinstance(frame, pd.DataFrame)
    assert set(frame["strategy"]) == {"fixed", "random"} and set(frame["seed"]) == {0, 1}
    assert (frame.groupby(["strategy", "seed"])["epochs_spent"].max() == 2).all()
    assert {"best_val", "test_at_best", "test_persistence"} <= set(frame.columns)
    artifacts = recorder.artifact_dir(frame.attrs["run_id"])
    assert (artifacts / "plots" / "best_vs_epochs.png").exists() and (artifacts / "comparison.csv").exists()


class OwnDriver(Strategy):
    """A strategy with its own scheduler (as pbt): it logs one episode itself and reads it back."""

    name = "own-driver"

    def drive(self, session: TuningSession) -> list[EpisodeResult]:
        session.set_plan(1, 1)
        spec = EpisodeSpec.fresh(
            0, {"lrelu_alpha": 0.1}, epochs=1, seed=0, checkpoint_dir=session.folder / "own", action="own"
        )
        with session.recorder.episode(session.session_id, spec.index, {"hp": spec.hyperparameters}) as run_id:
            session.recorder.log_metrics(run_id, {"val/crps_rel": 0.5, "tune/epochs": 1})
        return session.logged_episodes()


def test_a_strategy_with_its_own_driver_runs_the_session(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    strategy = OwnDriver(config, SearchSpace(config.tuning.space), config.seed)
    result = run_session(config, tiny_task, recorder, strategy=strategy, quiet=True)
    assert result.strategy == "own-driver" and [e.index for e in result.episodes] == [0]
    assert result.best is not None and result.best.metrics["val/crps_rel"] == 0.5 and result.epochs_spent == 1
    session = recorder.run(result.session_id)
    assert session.status == "FINISHED" and session.tags[BEST_RUN_TAG] == result.best.run_id
