"""A study's data per target: the walk-forward folds' features built once, with the union of the study's
groups, and each cell given the columns of its feature set's groups.

One build per target and fold (cached on disk by the feature pipeline, like every experiment's) instead of
one per feature set: every cell of a target then also reads the same rows, so all of them forecast the same
test days and their per-day scores can be compared day by day. A builder's notes (members a close-only file
cannot have, a builder skipped) are kept, so the tables can mark the cells whose groups missed members.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gan_trader.config import ExperimentConfig
from gan_trader.features.base import BUILDERS
from gan_trader.models.base import ForecastTask
from gan_trader.workflow.prepare import fold_splits, load_panel, prepare
from gan_trader.workflow.study.spec import PER_TARGET, FeatureSet

# The per-target models read every column; of the notes, those of the group their tables depend on (har_t
# reads the volatility group).
PER_TARGET_BUILDERS = ("volatility",)


@dataclass
class TargetData:
    """One target's fold tasks with the union's columns, and its builders' notes."""

    target: str
    folds: list[ForecastTask]
    notes: list[str]

    @property
    def columns(self) -> list[str]:
        return list(self.folds[0].features.columns)

    def tasks(self, feature_set: FeatureSet | None) -> list[ForecastTask]:
        """The fold tasks with the columns of `feature_set` (None: every column, for per-target models)."""
        if feature_set is None:
            return list(self.folds)
        return [
            dataclasses.replace(
                task, features=task.features[feature_set.columns(list(task.features.columns))]
            )
            for task in self.folds
        ]

    def missing(self, feature_set: FeatureSet | None) -> list[str]:
        """The notes of the set's builders: members left out (a close-only file has no range), skipped
        builders."""
        builders = PER_TARGET_BUILDERS if feature_set is None else feature_set.builders
        return [note for note in self.notes if note.split(":", 1)[0] in builders]


def note_builder(note: str) -> str | None:
    """The builder a pipeline note is about (notes of members are `<builder>: ...`)."""
    head = note.split(":", 1)[0]
    return head if head in BUILDERS else None


def prepare_target(config: ExperimentConfig, use_cache: bool = True) -> TargetData:
    """Build every fold's features of `config`'s target with its builders (the study's union)."""
    panel = load_panel(config)
    folds = []
    notes: list[str] = []
    for split in fold_splits(config, panel):
        prepared = prepare(config, panel, split, use_cache)
        folds.append(prepared.task)
        notes += [n for n in prepared.features.notes if note_builder(n) is not None and n not in notes]
    return TargetData(config.data.target, folds, notes)


def label(feature_set: FeatureSet | None) -> str:
    return PER_TARGET if feature_set is None else feature_set.name
