"""The reference set first, racing before selection: a session selects another set only when it beats the
reference by more than one standard error on fresh seeds; bad racing budgets and references outside the box.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from tuning_doubles import SmoothObjectiveGan, tiny_config

from gan_trader.config import load_config
from gan_trader.errors import ConfigError
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeResult, run_episode
from gan_trader.tuning.executor import LocalExecutor
from gan_trader.tuning.loop import episode_seed
from gan_trader.tuning.racing import RACE, RacedSet, racing_plan, select
from gan_trader.tuning.session import run_session
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies import config_hyperparameters

OBJECTIVE = "val/crps_rel"


class NoisyGan(SmoothObjectiveGan):
    """SmoothObjectiveGan whose distribution also moves with the seed: one run of a set says little, as with
    the real GAN (whose 10-epoch validation score differs by about 0.015 between seeds of one set)."""

    def predict(self, task: ForecastTask, origins) -> Forecast:
        forecast = super().predict(task, origins)
        shift = 0.006 * np.random.default_rng(self.seed).standard_normal()
        samples = forecast.samples * (1.0 + 5.0 * abs(shift)) + shift
        return Forecast.from_returns("fake", task, origins, forecast.log_return + shift, samples)


def noisy_episode(job, task, recorder=None):
    recorder = recorder or open_recorder(job.tracking, job.experiment)
    return run_episode(job.config, task, recorder, job.session_id, job.spec, forecaster_factory=NoisyGan)


def _result(
    index: int, value: float, action: str = "new", alpha: float = 0.2, epochs: int = 1
) -> EpisodeResult:
    hyperparameters = {"lrelu_alpha": alpha}
    return EpisodeResult(
        index, "FINISHED", None, hyperparameters, {OBJECTIVE: value}, epochs, epochs, action=action
    )


def test_the_plan_races_the_best_other_sets_within_the_budget() -> None:
    reference = {"lrelu_alpha": 0.01}
    history = [
        _result(0, 1.00, "reference", 0.01),
        _result(1, 0.95, alpha=0.1),
        _result(2, 0.90, alpha=0.2, epochs=2),  # a set continued by keep races at the episode length
        _result(3, 0.97, alpha=0.3),
        _result(4, 0.80, alpha=0.1),  # the same set again: one candidate, its best run
    ]
    history[4].metrics["tune/pruned"] = 1.0  # a pruned trial is no candidate
    plan = racing_plan(
        history, reference, objective=OBJECTIVE, candidates=2, seeds=2, episode_epochs=1, epochs_left=10
    )
    assert [(run.position, run.raced, run.epochs) for run in plan] == [
        (0, None, 1),
        (0, None, 1),
        (1, 2, 1),
        (1, 2, 1),
        (2, 1, 1),
        (2, 1, 1),
    ]
    short = racing_plan(
        history, reference, objective=OBJECTIVE, candidates=2, seeds=2, episode_epochs=1, epochs_left=5
    )
    assert [run.raced for run in short] == [None, None, 2, 2]  # the second candidate does not fit: not raced
    assert (
        racing_plan(
            history[:1],
            reference,
            objective=OBJECTIVE,
            candidates=2,
            seeds=2,
            episode_epochs=1,
            epochs_left=10,
        )
        == []
    )


def _raced(position: int, values: list[float]) -> RacedSet:
    runs = [_result(i, v, RACE if position else "reference") for i, v in enumerate(values)]
    return RacedSet(position, {"lrelu_alpha": 0.1 * position}, 1, position or None, runs)


def test_another_set_is_selected_only_when_it_beats_the_reference_by_more_than_one_standard_error() -> None:
    reference = _raced(0, [1.00, 1.02, 0.98])
    # Pooled sd 0.02 (every set spreads alike): one standard error of a difference is 0.02 x sqrt(1/3 + 1/2).
    se = 0.02 * math.sqrt(1 / 3 + 1 / 2)
    close = _raced(1, [0.99 - 0.02 / math.sqrt(2), 0.99 + 0.02 / math.sqrt(2)])  # better by 0.01 < se
    clear = _raced(2, [0.97 - 0.02 / math.sqrt(2), 0.97 + 0.02 / math.sqrt(2)])  # better by 0.03 > se
    kept = select(reference, [close], OBJECTIVE, None)
    assert kept.is_reference and "kept the reference set" in kept.describe()
    assert "better by 0.0100, within one standard error" in kept.describe()
    worse = select(reference, [_raced(1, [1.05, 1.07])], OBJECTIVE, None).describe()
    assert "not better (the reference leads by 0.0600" in worse
    chosen = select(reference, [close, clear], OBJECTIVE, None)
    assert chosen.selected is clear and chosen.improvement_val == pytest.approx(0.03)
    assert chosen.standard_error == pytest.approx(se)
    assert (
        chosen.describe().startswith("selected episode 2's set") and "one standard error" in chosen.describe()
    )
    failing = _raced(2, [0.90, 0.90])
    failing.runs[1] = EpisodeResult(9, "FAILED", None, {}, epochs=1, action=RACE)
    assert select(reference, [failing], OBJECTIVE, None).is_reference  # a set that fails a run is not chosen


def test_a_session_keeps_the_reference_that_a_single_seed_would_have_lost(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    """The reference is the stand-in's optimum (lrelu_alpha 0.1), but seed noise makes another set's one run
    look better: selecting on one seed picks it, racing keeps the reference."""
    config = tiny_config(
        tmp_path, "gan.critic.lrelu_alpha=0.1", "tuning.init_points=4", "tuning.racing.seeds=3", store=store
    )
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(
        config,
        tiny_task,
        recorder,
        strategy="random",
        episodes=5,
        executor=LocalExecutor(1, noisy_episode),
        quiet=True,
    )
    searched = [e for e in result.episodes if e.action != RACE]
    single_seed = min(searched, key=lambda e: e.objective(OBJECTIVE))
    assert single_seed.action != "reference"  # the precondition: one seed would have chosen another set
    reference = config_hyperparameters(config, SearchSpace(config.tuning.space).names)
    assert result.selection is not None and result.selection.is_reference, result.selection.describe()
    assert result.best is not None and result.best.hyperparameters == reference
    metrics = recorder.run(result.session_id).metrics
    assert metrics["select/is_reference"] == 1.0 and "select/improvement_se" in metrics
    text = (recorder.artifact_dir(result.session_id) / "selection.txt").read_text()
    assert text.startswith("random session: kept the reference set") and text.count("\n") == 1


def test_every_episode_draws_its_own_seed() -> None:
    seeds = {
        episode_seed(seed, stream, index) for seed in (7, 8) for stream in ("rl", "bo") for index in range(50)
    }
    assert len(seeds) == 200  # seed + i would share: 7's episode 1 is 8's episode 0


def test_a_racing_budget_larger_than_the_sessions_is_one_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["tuning.budget_epochs=20", "tuning.epochs_per_episode=5"])
    message = str(error.value)
    assert message.startswith("<defaults>: tuning.racing takes (2 candidates + the reference) x 2 seeds x 5")
    assert "tuning.budget_epochs (20)" in message and "\n" not in message
    load_config(None, ["tuning.budget_epochs=35", "tuning.epochs_per_episode=5"])  # 30 + the reference's 5


def test_a_reference_outside_the_box_is_trained_and_logged_with_one_line(
    tmp_path: Path, tiny_task, store: Path, experiment: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = tiny_config(tmp_path, "gan.critic.kernel_size=5", store=store)  # the space allows 2 or 3
    recorder = open_recorder(config.tracking, experiment)
    with caplog.at_level(logging.WARNING, logger="gan_trader.tuning.session"):
        result = run_session(
            config,
            tiny_task,
            recorder,
            strategy="bo",
            episodes=2,
            executor=LocalExecutor(1, noisy_episode),
            quiet=True,
        )
    lines = [r.getMessage() for r in caplog.records if "outside the search box" in r.getMessage()]
    assert len(lines) == 1 and "kernel_size 5 (not in [2, 3])" in lines[0] and "\n" not in lines[0]
    first = result.episodes[0]
    assert first.action == "reference" and first.ok and first.hyperparameters["kernel_size"] == 5
    logged = next(r for r in recorder.runs(session=result.session_id) if r.episode_index == 0)
    assert logged.param_section("hp")["kernel_size"] == "5"
