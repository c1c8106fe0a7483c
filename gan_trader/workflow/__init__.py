"""Orchestration on top of every other part: prepare a task, run an experiment, walk-forward folds and seeds,
compare tuning strategies, assemble reports. Nothing below this package imports it."""
