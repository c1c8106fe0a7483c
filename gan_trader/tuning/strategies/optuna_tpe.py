"""`optuna`: the tuner most researchers already use, beside the others at the same budget. Optuna's TPE
sampler proposes each set (ask-and-tell); its median pruner (or Hyperband, tuning.optuna.pruner) may stop
a trial at any epoch from its per-epoch validation score (pruning.py), and a pruned trial is charged the
epochs it trained. Trials are as long as the other strategies' episodes (tuning.epochs_per_episode).

The study lives in the session folder (`strategy/optuna.journal`, Optuna's JournalStorage), so an episode
in another process of this machine reports to its trial, and a resumed session continues the same study.
The reference set (episode 0, trained by the session's loop) enters the study as a completed trial when it
lies inside the box; racing runs are not trials.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from gan_trader.config import ExperimentConfig, ParamSpec
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import REFERENCE, Action
from gan_trader.tuning.pruning import PRUNED_METRIC, journal_storage, make_pruner
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.base import EpisodeStrategy, TuningSession

log = logging.getLogger(__name__)

JOURNAL = "optuna.journal"


def _distribution(spec: ParamSpec) -> Any:
    """The Optuna distribution of one search-space dimension."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if spec.type == "categorical":
        return CategoricalDistribution(list(spec.choices or []))
    low, high = float(spec.low), float(spec.high)  # type: ignore[arg-type]
    if spec.type == "int":
        return IntDistribution(int(low), int(high))
    return FloatDistribution(low, high, log=spec.type == "log_float")


class OptunaStrategy(EpisodeStrategy):
    name = "optuna"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        self.distributions = {dim.name: _distribution(dim.spec) for dim in space.dimensions}
        self.episode_epochs = config.tuning.epochs_per_episode or config.gan.epochs
        self.study: Any = None
        self.pruning: dict[str, Any] = {}

    def drive(self, session: TuningSession) -> list[EpisodeResult]:
        """Open (or, resumed, reopen) the session's study, then run the session's loop."""
        import optuna
        from optuna.samplers import TPESampler

        settings = self.config.tuning.optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        journal = session.folder / "strategy" / JOURNAL
        self.pruning = {
            "journal": str(journal),
            "study": session.session_id,
            "pruner": settings.pruner,
            "startup_trials": settings.startup_trials,
            "warmup_epochs": settings.warmup_epochs,
            "max_epochs": self.episode_epochs,
            "objective": self.objective,
        }
        self.study = optuna.create_study(
            storage=journal_storage(journal),
            study_name=session.session_id,
            sampler=TPESampler(seed=self.seed, n_startup_trials=settings.startup_trials),
            pruner=make_pruner(
                settings.pruner, settings.startup_trials, settings.warmup_epochs, self.episode_epochs
            ),
            direction="minimize",
            load_if_exists=True,
        )
        return session.run_episodes(self)

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        trial = self.study.ask(self.distributions)
        pruning = {**self.pruning, "trial_id": trial._trial_id}  # the storage's id of this trial
        return Action(
            "new", dict(trial.params), source="optuna", extra={"trial": trial.number}, pruning=pruning
        )

    def observe(self, result: EpisodeResult) -> None:
        """Tell the study how a trial ended: its validation score, PRUNED or FAIL; the reference's episode
        is added as a completed trial."""
        from optuna.trial import TrialState, create_trial

        trial = (result.suggestion or {}).get("trial")
        value = result.objective(self.objective)
        if trial is None:
            if result.action == REFERENCE and result.ok and math.isfinite(value):
                try:
                    frozen = create_trial(
                        params=dict(result.hyperparameters), distributions=self.distributions, value=value
                    )
                except ValueError:  # outside the box: not a point of this study
                    return
                self.study.add_trial(frozen)
            return
        if not result.ok or not math.isfinite(value):
            self.study.tell(int(trial), state=TrialState.FAIL, skip_if_finished=True)
        elif result.metrics.get(PRUNED_METRIC, 0.0) > 0:
            self.study.tell(int(trial), state=TrialState.PRUNED, skip_if_finished=True)
        else:
            self.study.tell(int(trial), value, skip_if_finished=True)
