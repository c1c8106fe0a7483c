"""Learning from real sessions: the saved policy is updated from a session's stored transitions, counts what
it has learned from, and concurrent updates add up."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from tuning_doubles import fake_episode, fake_result, tiny_config

from gan_trader.config import ExperimentConfig, load_config
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning import agents
from gan_trader.tuning.agents import Policy, learn_from_session, load_or_train_policy, make_agent, policy_path
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import LocalExecutor
from gan_trader.tuning.loop import CHOICES, EXPLORE, KEEP, LOCAL, Transition
from gan_trader.tuning.observation import observation_size
from gan_trader.tuning.session import run_session
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.rl import RLStrategy

BEST = LOCAL  # the bandit's one rewarded choice


class Bandit(gym.Env):
    """A one-step environment with the controller's spaces: choice BEST earns 1, every other choice 0."""

    def __init__(self, size: int) -> None:
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(size,), dtype=np.float32)
        self.action_space = spaces.Discrete(len(CHOICES))
        self.seen = np.linspace(-1.0, 1.0, size).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return self.seen, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.seen, float(int(action) == BEST), True, False, {}


def played(policy: Policy, env: Bandit, rounds: int) -> list[Transition]:
    """Every choice `rounds` times, stored as a session stores its decisions (through JSON)."""
    stored = []
    for choice in list(range(len(CHOICES))) * rounds:
        seen, _ = env.reset()
        following, gain, done, _, _ = env.step(choice)
        log_prob, value = policy.behaviour(seen, choice)
        decision = Transition(seen.tolist(), choice, log_prob, value, reward=gain, done=done)
        decision.next_observation = following.tolist()
        stored.append(decision)
    payloads = json.loads(json.dumps([transition.to_dict() for transition in stored]))
    return [Transition.from_dict(payload) for payload in payloads]


def preference(policy: Policy, seen: np.ndarray) -> float:
    """How strongly the policy prefers BEST: PPO its probability, DQN / QR-DQN the margin of its value over
    the best other choice's."""
    tensor, _ = policy.model.policy.obs_to_tensor(seen)
    with torch.no_grad():
        if policy.algo == "ppo":
            return float(policy.model.policy.get_distribution(tensor).distribution.probs[0, BEST])
        if policy.algo == "dqn":
            values = policy.model.q_net(tensor)[0]
        else:
            values = policy.model.quantile_net(tensor).mean(dim=1)[0]
    return float(values[BEST] - torch.cat([values[:BEST], values[BEST + 1 :]]).max())


def _bandit_config(tmp_path: Path, algo: str, *extra: str) -> tuple[ExperimentConfig, SearchSpace, Bandit]:
    config = tiny_config(tmp_path, f"tuning.agent.algo={algo}", *extra)
    space = SearchSpace(config.tuning.space)
    return config, space, Bandit(observation_size(space))


@pytest.mark.parametrize(("algo", "epochs"), [("ppo", 10), ("dqn", 10), ("qrdqn", 2)])
def test_learning_from_stored_transitions_favours_the_better_action(
    tmp_path: Path, algo: str, epochs: int
) -> None:
    config, space, env = _bandit_config(tmp_path, algo, f"tuning.agent.update_epochs={epochs}")
    path = policy_path(config)
    Policy(make_agent(algo, env, config.seed, 32), algo).save(path)
    policy = Policy.load(algo, path, observation_size(space), len(CHOICES))
    assert policy is not None and policy.real_transitions == 0
    before = preference(policy, env.seen)
    transitions = played(policy, env, rounds=4)
    update = learn_from_session(config, space, policy, transitions)
    saved = Policy.load(algo, path, observation_size(space), len(CHOICES))
    assert saved is not None and preference(saved, env.seen) > before
    assert (saved.real_transitions, saved.sessions) == (len(transitions), 1) == (update.real_transitions, 1)


def test_proxy_pretraining_is_bounded_in_time_and_shows_progress(
    tmp_path: Path, tiny_task, capsys: pytest.CaptureFixture
) -> None:
    def slow(spec: EpisodeSpec) -> EpisodeResult:
        time.sleep(0.1)
        return fake_result(spec)

    config = tiny_config(tmp_path, "tuning.agent.train_steps=1000", "tuning.agent.proxy_seconds=1")
    started = time.monotonic()
    space = SearchSpace(config.tuning.space)
    policy = load_or_train_policy(config, tiny_task, space, quiet=False, runner=slow)
    assert time.monotonic() - started < 10 and policy.real_transitions == 0
    progress = [line for line in capsys.readouterr().out.splitlines() if "proxy step" in line]
    assert 1 <= len(progress) < 1000 and progress[-1].endswith("of at most 1 s)")


def test_a_resumed_rl_strategy_keeps_its_decisions(tmp_path: Path) -> None:
    class Scripted:
        def act(self, observation: np.ndarray, rng: np.random.Generator | None = None) -> int:
            return KEEP

        def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
            return -1.5, 0.25

    config = tiny_config(tmp_path)
    space = SearchSpace(config.tuning.space)
    strategy = RLStrategy(config, space, 0, Scripted())
    action = strategy.next_action([], 1.0)
    assert action.transition is strategy.decisions[0] and action.transition.action == KEEP
    strategy.save(tmp_path / "strategy")
    resumed = RLStrategy(config, space, 0, Scripted())
    resumed.load(tmp_path / "strategy")
    assert resumed.decisions == strategy.decisions and resumed.decisions[0].log_prob == -1.5


def _rl_session(config: ExperimentConfig, task, experiment: str, quiet: bool = True) -> tuple[Any, str]:
    recorder = open_recorder(config.tracking, experiment)
    executor = LocalExecutor(1, fake_episode)
    result = run_session(config, task, recorder, strategy="rl", episodes=3, executor=executor, quiet=quiet)
    return recorder, result.session_id


def test_each_rl_session_stores_its_transitions_and_updates_the_saved_policy(
    tmp_path: Path, tiny_task, store: Path, experiment: str, capsys: pytest.CaptureFixture
) -> None:
    config = tiny_config(tmp_path, "tuning.agent.train_steps=4", "tuning.agent.proxy_episodes=2", store=store)
    space = SearchSpace(config.tuning.space)
    pretrained = load_or_train_policy(config, tiny_task, space, runner=fake_result)
    assert pretrained.real_transitions == 0 and pretrained.sessions == 0
    learned = 0
    for number in (1, 2):
        recorder, session_id = _rl_session(config, tiny_task, experiment, quiet=number == 1)
        stored = json.loads((recorder.artifact_dir(session_id) / "transitions.json").read_text())
        assert 1 <= len(stored) <= 3 and stored[-1]["done"] and not any(t["done"] for t in stored[:-1])
        # Episode 0 is the reference set's: the controller's first decision plans episode 1.
        assert stored[0]["action"] in range(len(CHOICES)) and stored[0]["episode"] == 1
        learned += len(stored)
        saved = Policy.load("ppo", policy_path(config), observation_size(space), len(CHOICES))
        assert saved is not None and (saved.real_transitions, saved.sessions) == (learned, number)
        metrics = recorder.run(session_id).metrics
        assert metrics["tune/rl_transitions"] == len(stored)
        assert metrics["tune/rl_transitions_total"] == learned
    assert f"rl policy: learned from {len(stored)} transitions of this session ({learned} real in total)" in (
        capsys.readouterr().out
    )


def test_concurrent_updates_do_not_lose_each_others_transitions(tmp_path: Path) -> None:
    config, space, env = _bandit_config(tmp_path, "ppo", "tuning.agent.update_epochs=1")
    path = policy_path(config)
    Policy(make_agent("ppo", env, config.seed, 32), "ppo").save(path)
    # Both runs loaded the policy before either updated it, then finish their sessions at the same time.
    stale = [Policy.load("ppo", path, observation_size(space), len(CHOICES)) for _ in range(2)]
    assert stale[0] is not None and stale[1] is not None
    sessions = [played(stale[0], env, rounds=1), played(stale[1], env, rounds=2)]
    start = threading.Barrier(2)

    def update(run: int) -> None:
        start.wait()
        learn_from_session(config, space, stale[run], sessions[run])

    threads = [threading.Thread(target=update, args=(run,)) for run in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = Policy.load("ppo", path, observation_size(space), len(CHOICES))
    assert saved is not None and saved.sessions == 2
    assert saved.real_transitions == len(sessions[0]) + len(sessions[1]) == 15


def test_update_epochs_zero_stores_transitions_but_leaves_the_policy(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(
        tmp_path,
        "tuning.agent.train_steps=4",
        "tuning.agent.proxy_episodes=2",
        "tuning.agent.update_epochs=0",
        store=store,
    )
    space = SearchSpace(config.tuning.space)
    load_or_train_policy(config, tiny_task, space, runner=fake_result)
    before = policy_path(config).read_bytes()
    recorder, session_id = _rl_session(config, tiny_task, experiment)
    assert (recorder.artifact_dir(session_id) / "transitions.json").exists()
    assert policy_path(config).read_bytes() == before


def test_a_first_session_starts_from_the_shipped_policy(
    tmp_path: Path, tiny_task, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(agents, "PRETRAINED_DIR", tmp_path / "shipped")
    config = tiny_config(tmp_path)
    space = SearchSpace(config.tuning.space)
    shipped = Policy(make_agent("ppo", Bandit(observation_size(space)), 3, 32), "ppo")
    shipped.save(agents.pretrained_path(config))

    def no_proxy(spec: EpisodeSpec) -> EpisodeResult:
        raise AssertionError("proxy pre-training ran although a policy ships for this search space")

    policy = load_or_train_policy(config, tiny_task, space, quiet=False, runner=no_proxy)
    assert "starting from the one shipped with gan-trader" in capsys.readouterr().out
    assert policy_path(config).exists() and policy.real_transitions == 0
    seen = np.linspace(-1, 1, observation_size(space), dtype=np.float32)
    assert preference(policy, seen) == pytest.approx(preference(shipped, seen))
    monkeypatch.setattr(agents, "PRETRAINED_DIR", tmp_path / "none")  # another space, nothing shipped
    other = tiny_config(tmp_path / "other", "tuning.allow_stop=false")
    assert agents.pretrained_path(other) != agents.pretrained_path(config)


def test_the_shipped_policy_fits_the_default_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default experiment's rl session starts from the shipped policy (its 5-minute budget has no room for
    proxy pre-training): changing tuning.space or allow_stop without rerunning scripts/pretrain_policy.py
    fails here."""
    monkeypatch.setattr(agents, "PRETRAINED_DIR", Path(agents.__file__).resolve().parent / "pretrained")
    config = load_config(Path(__file__).resolve().parents[2] / "experiments" / "default.yaml")
    assert config.tuning.strategy == "rl"
    space = SearchSpace(config.tuning.space)
    path = agents.pretrained_path(config)
    assert path.exists(), f"{path.name} is missing: run scripts/pretrain_policy.py"
    policy = Policy.load(config.tuning.agent.algo, path, observation_size(space), len(CHOICES))
    assert policy is not None and policy.real_transitions == 0


def test_in_real_sessions_the_policy_draws_from_its_own_distribution(tmp_path: Path) -> None:
    """Deterministic acting would only ever try one choice per observation (and PPO's recorded
    log-probabilities would not be those of what it did)."""
    config, space, env = _bandit_config(tmp_path, "ppo")
    policy = Policy(make_agent("ppo", env, config.seed, 32), "ppo")
    probabilities = policy.probabilities(env.seen)
    rng = np.random.default_rng(0)
    draws = np.bincount([policy.act(env.seen, rng) for _ in range(500)], minlength=len(CHOICES))
    assert (draws > 0).sum() >= 3
    assert np.abs(draws / 500 - probabilities).max() < 0.08
    assert policy.act(env.seen) == int(np.argmax(probabilities))  # without a stream: the most likely choice
    log_prob, _ = policy.behaviour(env.seen, LOCAL)
    assert log_prob == pytest.approx(np.log(probabilities[LOCAL]), abs=1e-5)  # PPO's ratio starts at 1


def test_dqn_acts_epsilon_greedy_and_keeps_its_replay_buffer_with_the_policy(tmp_path: Path) -> None:
    config, space, env = _bandit_config(tmp_path, "dqn", "tuning.agent.update_epochs=1")
    path = policy_path(config)
    Policy(make_agent("dqn", env, config.seed, 32), "dqn").save(path)
    policy = Policy.load("dqn", path, observation_size(space), len(CHOICES))
    assert policy is not None and policy.epsilon == pytest.approx(policy.model.exploration_final_eps)
    assert policy.epsilon > 0
    probabilities = policy.probabilities(env.seen)
    assert probabilities.max() == pytest.approx(1 - policy.epsilon + policy.epsilon / len(CHOICES))
    sizes = []
    for rounds in (1, 2):
        learn_from_session(config, space, policy, played(policy, env, rounds))
        saved = Policy.load("dqn", path, observation_size(space), len(CHOICES))
        assert saved is not None
        sizes.append(saved.model.replay_buffer.size())
    assert sizes == [len(CHOICES), 3 * len(CHOICES)]  # the second update still holds the first session's
    assert saved.model.replay_buffer.buffer_size == agents.REPLAY_SIZE  # bounded


def test_a_damaged_replay_buffer_is_named_in_one_line(tmp_path: Path) -> None:
    import zipfile

    config, space, env = _bandit_config(tmp_path, "dqn")
    path = policy_path(config)
    Policy(make_agent("dqn", env, config.seed, 32), "dqn").save(path)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 3] if item.filename == agents.REPLAY_ENTRY else data)
    with pytest.raises(agents.DamagedFileError) as error:
        Policy.load("dqn", damaged, observation_size(space), len(CHOICES))
    assert str(error.value).startswith(f"{damaged}: damaged replay buffer") and "\n" not in str(error.value)


def test_the_controllers_choices_decide_the_episodes(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    """Actions ignored (every choice run as `new`) fails here: keep continues the incumbent, explore and
    local ask the optimiser in their own modes."""

    class Scripted:
        def __init__(self) -> None:
            self.choices = [KEEP, EXPLORE, LOCAL]

        def act(self, observation: np.ndarray, rng: np.random.Generator | None = None) -> int:
            return self.choices.pop(0)

        def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
            return 0.0, 0.0

    config = tiny_config(tmp_path, "tuning.init_points=0", store=store)
    strategy = RLStrategy(config, SearchSpace(config.tuning.space), config.seed, Scripted())
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(
        config,
        tiny_task,
        recorder,
        strategy=strategy,
        episodes=4,
        executor=LocalExecutor(1, fake_episode),
        quiet=True,
    )
    searched = result.episodes[:4]
    assert [e.action for e in searched] == ["reference", "keep", "new", "new"]
    assert searched[1].total_epochs == 2 and searched[1].hyperparameters == searched[0].hyperparameters
    assert [e.suggestion["source"] for e in searched[2:]] == ["explore", "local"]


def test_after_two_real_sessions_the_policy_acts_otherwise_than_the_shipped_one(
    tmp_path: Path, tiny_task, store: Path, experiment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller learns from real sessions: its update removed (or its rewards all zero) fails here."""
    monkeypatch.setattr(agents, "PRETRAINED_DIR", tmp_path / "shipped")
    config = tiny_config(tmp_path, store=store)
    space = SearchSpace(config.tuning.space)
    shipped = Policy(make_agent("ppo", Bandit(observation_size(space)), 3, 32), "ppo")
    shipped.save(agents.pretrained_path(config))
    for _ in range(2):
        _rl_session(config, tiny_task, experiment)
    learned = Policy.load("ppo", policy_path(config), observation_size(space), len(CHOICES))
    assert learned is not None and learned.sessions == 2
    recorder = open_recorder(config.tracking, experiment)
    stored = [
        json.loads((recorder.artifact_dir(run.run_id) / "transitions.json").read_text())
        for run in recorder.runs(kind="session")
    ]
    seen = [np.asarray(t["observation"], np.float32) for session in stored for t in session]
    moved = [np.abs(learned.probabilities(o) - shipped.probabilities(o)).max() for o in seen]
    assert max(moved) > 0.01, moved
