"""Optuna's pruning inside an episode: each epoch's validation score is reported to the episode's trial, and
the trial's pruner (median or Hyperband) may stop the training there.

The `optuna` strategy keeps its study in a journal file in the session folder (Optuna's JournalStorage, safe
for several processes of one machine); an episode given `EpisodeSpec.pruning` opens that study in whatever
process trains it and reports to its trial. A pruned episode ends like an early-stopped one: FINISHED, with
the metrics of its best epoch so far, the epochs it trained (what the budget is charged) and
`tune/pruned` = 1.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PRUNED_METRIC = "tune/pruned"


def journal_storage(path: str | Path) -> Any:
    """Optuna's storage in the journal file at `path` (created when missing)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def make_pruner(kind: str, startup_trials: int, warmup_epochs: int, max_epochs: int) -> Any:
    """Optuna's MedianPruner (after `startup_trials` trials and `warmup_epochs` epochs of a trial) or its
    HyperbandPruner (from one epoch up to `max_epochs`, the episode length)."""
    from optuna.pruners import HyperbandPruner, MedianPruner

    if kind == "hyperband":
        return HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1), reduction_factor=3)
    return MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)


class TrialPruning:
    """Reports an episode's per-epoch validation score to its Optuna trial; says when to stop.

    :param settings: `EpisodeSpec.pruning`: the journal, study name, trial id, pruner settings and the
        metric reported (tuning.objective).
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._trial: Any = None
        self.pruned_at: int | None = None

    def _open(self) -> Any:
        import optuna

        s = self.settings
        pruner = make_pruner(
            s["pruner"], int(s["startup_trials"]), int(s["warmup_epochs"]), int(s["max_epochs"])
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=s["study"], storage=journal_storage(s["journal"]), pruner=pruner)
        return optuna.trial.Trial(study, int(s["trial_id"]))

    def should_stop(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Report this epoch's score (`epoch` counts from the episode's first); True when the pruner stops
        the trial here."""
        value = metrics.get(self.settings["objective"], math.nan)
        if not math.isfinite(value):
            return False
        if self._trial is None:
            self._trial = self._open()
        self._trial.report(float(value), epoch)
        if self._trial.should_prune():
            self.pruned_at = epoch
            log.info("optuna trial %s pruned at epoch %d", self.settings["trial_id"], epoch)
            return True
        return False
