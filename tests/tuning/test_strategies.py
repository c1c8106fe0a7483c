"""Strategies and sessions with a cheap deterministic GAN stand-in (the real GAN: test_episode.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tuning_doubles import TINY_TUNING_EXPERIMENT, fake_episode, fake_result, tiny_config

from gan_trader.config import ParamSpec
from gan_trader.errors import TrackingError, TuningError
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import BEST_EPISODE_TAG, BEST_RUN_TAG
from gan_trader.tuning.agents import Policy, load_or_train_policy, policy_path
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import LocalExecutor
from gan_trader.tuning.loop import NEW, STOP
from gan_trader.tuning.session import run_session
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies import Strategy, TuningSession, config_hyperparameters
from gan_trader.tuning.strategies.pb2 import PB2Strategy
from gan_trader.tuning.strategies.pbt import PBTStrategy, check_tune_storage, tune_storage
from gan_trader.tuning.strategies.rl import RLStrategy
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
    reference = config_hyperparameters(config, SearchSpace(config.tuning.space).names)
    searched = [e for e in result.episodes if e.action != "race"]
    racing = [e for e in result.episodes if e.action == "race"]
    assert [e.index for e in searched] == [0, 1, 2] and all(e.ok for e in result.episodes)
    if strategy == "fixed":  # the reference restarted: no racing, every restart judged
        assert not racing and result.epochs_spent == 3
        assert result.selection.is_reference and len(result.selection.reference.runs) == 3
    else:  # the reference first; then the reference and the best other set raced on two fresh seeds each
        assert searched[0].action == "reference" and searched[0].hyperparameters == reference
        assert [e.hyperparameters == reference for e in racing] == [True, True, False, False]
        assert result.epochs_spent == 3 + 4 and len(result.selection.reference.runs) == 3
    table = result.table()
    assert table["best_val"].is_monotonic_decreasing
    runs = recorder.runs(kind="episode")
    assert len(runs) == len(result.episodes) and all(r.status == "FINISHED" for r in runs)
    assert all("tune/reward" in r.metrics and "test/persistence_mae" in r.metrics for r in runs)
    session = recorder.run(result.session_id)
    assert session.status == "FINISHED" and session.tags[BEST_RUN_TAG] == result.best.run_id
    assert session.tags[BEST_EPISODE_TAG] == str(result.best.index)
    if strategy == "fixed":
        expected = config_hyperparameters(config, SearchSpace(config.tuning.space).names)
        assert all(e.hyperparameters == expected for e in result.episodes)
        assert expected["filters"] == config.gan.critic.filters[0]
    else:
        assert len({e.hyperparameters["lrelu_alpha"] for e in searched}) == 3


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
    # Racing holds back (1 candidate + the reference) x 2 seeds x 1 epoch: the search gets the other 2.
    _, _, result = _session(
        tmp_path, tiny_task, "random", "tuning.budget_epochs=6", episodes=10, store=store, name=experiment
    )
    assert len([e for e in result.episodes if e.action != "race"]) == 2 and result.epochs_spent == 6


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
    assert 1 <= len([e for e in result.episodes if e.action != "race"]) <= 3
    assert {e.action for e in result.episodes} <= {"reference", "new", "keep", "race"}


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
        6,
        task=tiny_task,
        recorder=recorder,
        executor=LocalExecutor(1, fake_episode),
    )
    assert isinstance(frame, pd.DataFrame)
    assert set(frame["strategy"]) == {"fixed", "random"} and set(frame["seed"]) == {0, 1}
    assert (frame.groupby(["strategy", "seed"])["epochs_spent"].max() == 6).all()
    # Independent sessions: every episode of every session (racing runs included) has a seed of its own.
    assert frame["episode_seed"].notna().all() and frame["episode_seed"].is_unique
    daily = frame.attrs["daily"]
    assert set(daily["strategy"]) == {"fixed", "random"} and (daily["crps"] > 0).all()
    assert {"best_val", "test_at_best", "test_persistence"} <= set(frame.columns)
    artifacts = recorder.artifact_dir(frame.attrs["run_id"])
    assert (artifacts / "plots" / "best_vs_epochs.png").exists() and (artifacts / "comparison.csv").exists()


class OwnDriver(Strategy):
    """A strategy with its own scheduler (as pbt): it logs one episode itself and reads it back."""

    name = "own-driver"
    trains_reference = False
    races = False

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


# ---------------------------------------------------------------- pbt and pb2 (Ray Tune)


def test_pb2_varies_the_continuous_hyperparameters_that_keep_the_networks_shapes(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    point = ParamSpec(type="categorical", choices=["mean", "median"])
    space = SearchSpace({**config.tuning.space, "gan.point": point})
    pb2 = PB2Strategy(config, space, config.seed)
    varied = {"batch_size", "cnn_lr", "lrelu_alpha", "batchnorm_momentum", "dropout"}
    assert set(pb2.mutable()) == varied  # not strides, padding, kernel_size, filters, nor the categorical
    assert set(PBTStrategy(config, space, config.seed).mutable()) == varied | {"gan.point"}
    assert pb2._scheduler()._hyperparam_bounds == {name: [0.0, 1.0] for name in varied}
    shapes_only = tiny_config(tmp_path, "tuning.space={filters: {type: int, low: 4, high: 8}}")
    for strategy in (PBTStrategy, PB2Strategy):
        with pytest.raises(TuningError, match=f"tuning.space: {strategy.name} needs at least one"):
            strategy(shapes_only, SearchSpace(shapes_only.tuning.space), 0)


def test_pb2_explores_at_the_second_exploit_when_the_first_copy_leads(tmp_path: Path) -> None:
    from ray.tune.experiment import Trial
    from ray.tune.schedulers.pbt import _PBTTrialState

    config = tiny_config(tmp_path)
    scheduler = PB2Strategy(config, SearchSpace(config.tuning.space), config.seed)._scheduler()
    names = list(scheduler._hyperparam_bounds)
    rng = np.random.default_rng(0)
    trials = [
        Trial("pbt_trainable", config={n: float(rng.uniform()) for n in names}, stub=True, trial_id=f"t_{i}")
        for i in range(3)
    ]
    for trial in trials:
        scheduler._trial_state[trial] = _PBTTrialState(trial)

    def report(time: int, objectives: list[float]) -> None:
        for trial, objective in zip(trials, objectives, strict=True):
            result = {"training_iteration": time, "objective": objective}
            scheduler._save_trial_state(scheduler._trial_state[trial], time, result, trial)

    report(1, [1.0, 0.9, 1.1])
    copied, _ = scheduler._get_new_config(trials[2], trials[1])  # no score changes yet: a copy
    assert copied == trials[1].config
    trials[2].set_config(copied)
    # The copy trains on from the best weights and leads the next round: the GP must have its starting
    # point (Ray's PB2 records none for a copy, and would copy again).
    report(2, [0.98, 0.95, 0.8])
    explored, _ = scheduler._get_new_config(trials[0], trials[2])
    assert all(explored[n] != copied[n] and 0.0 <= explored[n] <= 1.0 for n in names), (copied, explored)


@pytest.mark.slow
def test_pb2_explores_new_values_within_the_bounds_on_the_real_gan(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(
        tmp_path,
        "tuning.budget_epochs=13",  # 9 for the population, 4 for racing
        # Trial 0 starts at the reference set: inside the box, so that a value the GP proposes at a bound
        # cannot equal a start's by coincidence.
        "gan.critic.lrelu_alpha=0.05",
        "gan.generator.dropout=0.1",
        "gan.critic.dropout=0.1",
        "tuning.pbt.interval=1",
        # Three trials: with two, the first exploit leaves both with one set of values, and a GP bandit
        # over a single point has nothing to explore from.
        "tuning.pbt.population=3",
        "executor.workers=1",  # three trials on one worker: they take turns, pausing at each round's end
        "executor.torch_threads=1",
        store=store,
    )
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(config, tiny_task, recorder, strategy="pb2", quiet=True)
    episodes = [e for e in result.episodes if e.action != "race"]  # the population, then the racing
    assert [e.index for e in episodes] == list(range(9)) and result.epochs_spent == 13
    assert all(e.ok and e.action == "pb2" for e in episodes), [(e.status, e.reason) for e in episodes]
    space = SearchSpace(config.tuning.space)
    varied = PB2Strategy(config, space, config.seed).mutable()
    for episode in episodes:  # index = trial x 3 rounds + round
        space.check(episode.hyperparameters)
        for dim in space.dimensions:
            assert dim.spec.low <= episode.hyperparameters[dim.name] <= dim.spec.high
    starts = [episodes[0].hyperparameters, episodes[3].hyperparameters, episodes[6].hyperparameters]
    shapes = [{k: v for k, v in start.items() if k not in varied} for start in starts]
    for episode in episodes:
        assert {k: v for k, v in episode.hyperparameters.items() if k not in varied} in shapes
    # The first exploit copies the better trial's values; the next one is the GP's: values no trial started
    # with.
    last_round = [episodes[2].hyperparameters, episodes[5].hyperparameters, episodes[8].hyperparameters]
    explored = [
        p for p in last_round if all(p[n] != s[n] for s in starts for n in ("lrelu_alpha", "dropout"))
    ]
    values = [(e.index, e.hyperparameters["lrelu_alpha"], e.hyperparameters["dropout"]) for e in episodes]
    assert explored, values
    assert [e.total_epochs for e in episodes] == [1, 2, 3] * 3


def test_tune_storage_defaults_to_the_session_folder_on_one_machine(tmp_path: Path) -> None:
    for address in ([], ["executor.ray_address=auto"], ["executor.ray_address=127.0.0.1:6379"]):
        config = tiny_config(tmp_path, *address)
        check_tune_storage(config)
        assert tune_storage(config, tmp_path / "session") == str(tmp_path / "session" / "tune")
    config = tiny_config(tmp_path, "tuning.pbt.storage_path=s3://bucket/tune")
    assert tune_storage(config, tmp_path) == "s3://bucket/tune"


@pytest.mark.parametrize(
    ("extra", "nodes", "error"),
    [
        (["executor.ray_address=10.1.2.3:6379"], 1, "it is not set"),
        (["executor.ray_address=ray://head.example:10001"], 1, "it is not set"),
        (
            ["executor.ray_address=10.1.2.3:6379", "tuning.pbt.storage_path=/data/tune"],
            1,
            "not declared shared",
        ),
        (["executor.ray_address=auto"], 3, "the Ray cluster has 3 nodes"),
        (["executor.ray_address=10.1.2.3:6379", "tuning.pbt.storage_path=file:///data/tune"], 1, "declared"),
        (["executor.ray_address=10.1.2.3:6379", "tuning.pbt.storage_path=gs://b/t"], 1, None),
        (
            [
                "executor.ray_address=10.1.2.3:6379",
                "tuning.pbt.storage_path=/nfs/t",
                "tuning.pbt.storage_shared=true",
            ],
            1,
            None,
        ),
        (["tuning.pbt.storage_path=s3://bucket/tune"], 4, None),
    ],
)
def test_tune_storage_on_several_machines_must_be_shared(
    tmp_path: Path, extra: list[str], nodes: int, error: str | None
) -> None:
    config = tiny_config(tmp_path, *extra)
    if error is None:
        check_tune_storage(config, nodes)
        return
    with pytest.raises(TuningError, match=rf"^tuning\.pbt\.storage_path: .*{error}.*storage_shared: true$"):
        check_tune_storage(config, nodes)


@pytest.mark.parametrize("strategy", ["pbt", "pb2"])
def test_pbt_on_a_remote_cluster_without_shared_storage_stops_with_one_line(
    tmp_path: Path, run_cli, strategy: str
) -> None:
    overrides = [*TINY_TUNING_EXPERIMENT, f"runs_dir={tmp_path / 'runs'}"]
    overrides += [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "evaluation.baselines=[persistence]"]
    config = tmp_path / "tiny.yaml"
    config.write_text("name: tiny\n", encoding="utf-8")
    sets = [arg for override in overrides for arg in ("--set", override)]
    argv = ["tune", str(config), *sets, "--strategy", strategy, "--ray-address", "10.1.2.3:6379", "-q"]
    code, out, err = run_cli(argv)
    assert code == 2 and out == ""
    assert (
        err.startswith("error: tuning.pbt.storage_path: the Ray cluster at 10.1.2.3:6379")
        and err.count("\n") == 1
    )


class AlwaysStop:
    """A controller that always chooses stop."""

    def act(self, observation, rng=None) -> int:
        return STOP

    def behaviour(self, observation, choice: int) -> tuple[float, float]:
        return 0.0, 0.0


@pytest.mark.parametrize("minimum", [1, 3])
def test_the_controllers_stop_waits_for_min_episodes(tmp_path: Path, minimum: int) -> None:
    config = tiny_config(tmp_path, f"tuning.min_episodes={minimum}")
    strategy = RLStrategy(config, SearchSpace(config.tuning.space), config.seed, policy=AlwaysStop())
    history: list[EpisodeResult] = []
    while True:
        action = strategy.next_action(history, budget_left=1.0)
        if action.kind == "stop":
            break
        spec = EpisodeSpec.fresh(
            len(history), action.hyperparameters, epochs=1, seed=0, checkpoint_dir=tmp_path, action="new"
        )
        history.append(fake_result(spec))
    assert len(history) == minimum
    # What ran before the stop was honoured is stored as what it was: a new set, not a stop.
    assert [t.action for t in strategy.decisions] == [NEW] * minimum + [STOP]
