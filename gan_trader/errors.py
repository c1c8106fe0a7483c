"""User-facing errors: each names the file, key, column or row at fault; the CLI prints one line, exit 2."""

from __future__ import annotations


class GanTraderError(Exception):
    """Base of every error caused by the user's input (files, configs, arguments)."""

    exit_code = 2


class DataError(GanTraderError):
    """A data file is missing, malformed or inconsistent."""


class ConfigError(GanTraderError):
    """A config file or override is invalid; the message names the key path."""


class FeatureError(GanTraderError):
    """A feature builder was misconfigured or cannot run on the given data."""


class TrainingError(GanTraderError):
    """Training cannot proceed on this input (too few windows, non-finite inputs...)."""


class TuningError(GanTraderError):
    """A tuning strategy, search space or executor was misconfigured."""


class TrackingError(GanTraderError):
    """A session or episode asked for does not exist, or the tracking store cannot be used."""


class DamagedFileError(GanTraderError):
    """A file gan-trader wrote itself cannot be read back and cannot be rebuilt (session state, checkpoint,
    saved policy, optimiser state); the message names the file and what to do."""


class OutdatedFileError(GanTraderError):
    """A file gan-trader wrote itself has another format version than this version reads; the message names
    the file, its version and what to do."""


class EpisodeFailed(Exception):
    """An episode could not finish (non-finite loss, exploding gradients...): logged FAILED, session goes on.

    Not a user error: the session catches it, marks the episode FAILED with `reason`, and continues.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
