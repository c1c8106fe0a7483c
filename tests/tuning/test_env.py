"""The tuning environment: gymnasium's checker, keep/new/stop semantics, the two reward definitions, and the
one loop it shares with a session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from tuning_doubles import fake_result, tiny_config

from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.env import EXPLORE, KEEP, LOCAL, NEW, STOP, TuningEnv
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, learning_slope
from gan_trader.tuning.loop import continuable, reward
from gan_trader.tuning.observation import observation, observation_size
from gan_trader.tuning.session import _Session
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies import config_hyperparameters
from gan_trader.tuning.strategies.rl import RLStrategy


def make_env(tmp_path: Path, *overrides: str) -> TuningEnv:
    config = tiny_config(tmp_path, *overrides)
    return TuningEnv(config, fake_result, budget_epochs=3, epochs_per_episode=1, workdir=tmp_path)


def test_passes_gymnasium_env_checker(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (observation_size(env.search_space),)


def test_reset_trains_the_reference_and_keep_continues_the_incumbent(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    obs, _ = env.reset(seed=0)
    reference = config_hyperparameters(env.config, env.search_space.names)
    assert [(e.action, e.hyperparameters) for e in env.history] == [("reference", reference)]
    assert obs[13] == 1.0 and env.spent == 1  # the reference's checkpoint can be continued
    obs, gain, terminated, _, info = env.step(KEEP)
    assert info["action"] == "keep" and env.history[-1].total_epochs == 2 and not terminated
    assert env.history[-1].hyperparameters == reference
    obs, _, terminated, _, info = env.step(NEW)
    assert terminated and env.spent == 3
    assert obs[11] == 0.0  # no budget left
    assert env.optimizer.observations == 2  # the keep episode's longer training is not a GP observation


def test_keep_continues_the_best_set_not_the_last(tmp_path: Path) -> None:
    objective = "val/crps_rel"
    made = [
        EpisodeResult(i, "FINISHED", None, {"lrelu_alpha": a}, {objective: v}, 1, 1, tmp_path / f"{i}.pt")
        for i, (a, v) in enumerate([(0.1, 0.9), (0.2, 0.8), (0.3, 1.1)])
    ]
    assert continuable(made, objective) is made[1]
    made[1].checkpoint = None  # nothing to continue there: the best that can be continued
    assert continuable(made, objective) is made[0]
    assert continuable([], objective) is None


def test_stop_ends_without_spending(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    env.reset(seed=0)
    _, gain, terminated, _, info = env.step(STOP)
    assert terminated and gain == 0.0 and env.spent == 1 and info["action"] == "stop"  # the reference's
    assert make_env(tmp_path, "tuning.allow_stop=false").action_space.n == 4


def _result(error: float, epochs: int = 2, ok: bool = True, loss_g: float = 0.3, loss_d: float = -0.5):
    return EpisodeResult(
        0,
        "FINISHED" if ok else "FAILED",
        None,
        {},
        {"val/mae": error, "val/persistence_mae": 0.01, "val/directional_accuracy": 0.6},
        epochs,
        epochs,
        history=[{"train/loss_g": loss_g, "train/loss_d": loss_d}],
    )


def test_improvement_reward_is_per_epoch_and_never_rewards_worse_errors() -> None:
    assert reward("improvement", _result(0.008, epochs=2), 1.0, 0.8, 1.0) == pytest.approx(10.0)
    assert reward("improvement", _result(0.008, epochs=4), 1.0, 0.8, 1.0) == pytest.approx(5.0)
    assert reward("improvement", _result(0.008, epochs=2), 1.0, 0.8, 2.0) == pytest.approx(5.0)
    assert reward("improvement", _result(0.02), 0.8, 0.8, 1.0) == 0.0
    assert reward("improvement", _result(0.02), None, 0.8, None) == 0.0  # the first sets the reference


def test_reward_informs_when_every_model_loses_to_persistence(tmp_path: Path) -> None:
    """Every episode is twice as bad as persistence; the first sets the reference, improvements still pay."""

    def worse(spec: EpisodeSpec) -> EpisodeResult:
        result = fake_result(spec)
        result.metrics = {k: 2.0 * v if k != "val/persistence_mae" else v for k, v in result.metrics.items()}
        return result

    config = tiny_config(tmp_path)
    env = TuningEnv(config, worse, budget_epochs=6, epochs_per_episode=1, workdir=tmp_path)
    env.reset(seed=0)
    rewards = [env.step(choice)[1] for choice in (NEW, KEEP, KEEP, NEW)]
    assert all(r.metrics["val/crps_rel"] > 1.5 for r in env.history)
    assert env.history[0].action == "reference" and env.history[0].reward == 0.0  # the session's own start
    assert max(rewards) > 0.0  # the keeps improve on it (fake_result's error falls with epochs)
    assert all(r >= 0.0 for r in rewards)


@pytest.mark.parametrize("choice", [NEW, EXPLORE, LOCAL])
def test_steering_actions_choose_how_the_optimiser_finds_the_set(tmp_path: Path, choice: int) -> None:
    env = make_env(tmp_path, "tuning.init_points=1")
    env.reset(seed=0)
    env.step(NEW)  # the random initial design
    _, _, _, _, info = env.step(choice)
    source = env.history[-1].suggestion["source"]
    assert info["action"] == "new" and source == {NEW: "ucb", EXPLORE: "explore", LOCAL: "local"}[choice]


def test_original_reward_has_its_sign_corrected() -> None:
    low_loss = reward("original", _result(0.01, loss_g=0.1, loss_d=0.1), 1.0, 1.0, 1.0)
    high_loss = reward("original", _result(0.01, loss_g=2.0, loss_d=1.0), 1.0, 1.0, 1.0)
    assert low_loss > high_loss  # the original rewarded the larger losses
    assert reward("original", _result(0.01, ok=False), 1.0, 1.0, 1.0) < high_loss


def test_failed_episode_is_observed_as_failed(tmp_path: Path) -> None:
    def failing(spec):
        return EpisodeResult(spec.index, "FAILED", None, spec.hyperparameters, epochs=1, reason="nan")

    env = TuningEnv(tiny_config(tmp_path), failing, budget_epochs=2, epochs_per_episode=1, workdir=tmp_path)
    env.reset(seed=0)
    obs, gain, *_ = env.step(NEW)
    assert obs[12] == 1.0 and obs[0] == 10.0 and gain == 0.0
    assert np.isfinite(obs).all()


class ScriptedPolicy:
    """A policy that plays a fixed list of choices."""

    def __init__(self, choices: list[int]) -> None:
        self.choices = list(choices)

    def act(self, observation: np.ndarray, rng: np.random.Generator | None = None) -> int:
        return self.choices.pop(0)

    def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
        return 0.0, 0.0


def _relative(spec: EpisodeSpec, root: Path) -> dict:
    """A spec with its paths relative to the folder its driver keeps checkpoints in."""
    payload = spec.to_dict()
    for key in ("checkpoint_dir", "resume_from"):
        if payload[key] is not None:
            payload[key] = str(Path(payload[key]).relative_to(root))
    return payload


def test_env_and_session_plan_the_same_episodes(tmp_path: Path, store: Path, experiment: str) -> None:
    """One loop: the same choices on the same history give the same specs and rewards in both drivers."""
    config = tiny_config(tmp_path, store=store)
    choices = [NEW, KEEP, NEW]
    by_env: list[EpisodeSpec] = []

    def runner(spec: EpisodeSpec) -> EpisodeResult:
        by_env.append(spec)
        return fake_result(spec)

    env = TuningEnv(config, runner, budget_epochs=4, epochs_per_episode=1, workdir=tmp_path / "env")
    env.reset(seed=5)
    env_rewards = [env.history[0].reward] + [env.step(choice)[1] for choice in choices]

    recorder = open_recorder(config.tracking, experiment)
    state = {
        "session_id": recorder.start_session("one-loop"),
        "strategy": "rl",
        "seed": 5,
        "budget_epochs": 4,
        "epochs_per_episode": 1,
        "planned_episodes": 4,
        "phase": "search",
        "reserved": 0,
        "racing": None,
        "next_index": 0,
        "episodes": {},
        "pending": {},
        "epochs_spent": 0,
        "stopped": False,
    }
    strategy = RLStrategy(config, SearchSpace(config.tuning.space), 5, ScriptedPolicy(choices))
    session = _Session(config, None, recorder, strategy, state, tmp_path / "session")
    by_session, session_rewards = [], []
    while (spec := session.next_spec(strategy)) is not None:
        by_session.append(spec)
        session_rewards.append(session.finish_episode(fake_result(spec)))

    assert [s.action for s in by_env] == ["reference", "new", "keep", "new"]
    env_root, session_root = tmp_path / "env" / "env-0001", tmp_path / "session" / "episodes"
    assert [_relative(s, session_root) for s in by_session] == [_relative(s, env_root) for s in by_env]
    assert session_rewards == pytest.approx(env_rewards)
    assert session.spent == env.spent == 4
    # The session's decisions are the env's transitions: same choices, same rewards, the last one done.
    transitions = strategy.transitions(session.history, session.budget_left)
    assert [t.action for t in transitions] == choices and [t.episode for t in transitions] == [1, 2, 3]
    assert [t.reward for t in transitions] == pytest.approx(env_rewards[1:])
    assert [t.done for t in transitions] == [False, False, True]
    assert transitions[0].next_observation == transitions[1].observation
    # A session whose episodes the controller never planned (with two workers, the reference and the
    # optimiser's parallel slots can fill a small budget) has no transitions to learn from.
    assert (
        RLStrategy(config, SearchSpace(config.tuning.space), 5, ScriptedPolicy([])).transitions([], 0) == []
    )


def test_the_observation_carries_the_learning_curves_slope(tmp_path: Path) -> None:
    still_falling = [{"val/crps_rel": 1.10 - 0.02 * epoch} for epoch in range(6)]
    flat = [{"val/crps_rel": 1.0} for _ in range(6)]
    assert learning_slope(still_falling, "val/crps_rel") == pytest.approx(-0.02 / 1.04)  # last 5 epochs
    assert learning_slope(flat, "val/crps_rel") == pytest.approx(0.0, abs=1e-12)
    assert learning_slope(flat[:1], "val/crps_rel") == 0.0
    config = tiny_config(tmp_path)
    space = SearchSpace(config.tuning.space)
    result = _result(0.008)
    result.metrics["tune/learning_slope"] = -0.02
    seen = observation([result], space, config.tuning.objective, 0.5)
    assert seen[14] == pytest.approx(-2.0) and seen.shape == (observation_size(space),)
