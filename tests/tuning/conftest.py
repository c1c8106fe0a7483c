"""Fixtures for the tuning tests: a tiny real task (about two years of MSFT, no feature builders)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuning_doubles import tiny_config

from gan_trader.models.base import ForecastTask
from gan_trader.workflow.prepare import prepare


@pytest.fixture(scope="session")
def tiny_task(tmp_path_factory: pytest.TempPathFactory) -> ForecastTask:
    """What `prepare` makes of the tiny tuning experiment (the close alone, default split)."""
    config = tiny_config(tmp_path_factory.mktemp("task"))
    return prepare(config, use_cache=False).task


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow database for the whole test session (its schema migration is the slow part)."""
    from gan_trader.tracking.store import open_recorder

    folder = tmp_path_factory.mktemp("store")
    config = tiny_config(folder, store=folder)
    open_recorder(config.tracking, "warm-up")
    return folder


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    """An experiment name per test, so tests sharing the store do not see each other's runs."""
    return request.node.name
