"""Fixtures of the reliability tests: one MLflow database shared by the tests that need a store."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one MLflow database (creating one is the slow part); tests use their own
    experiment names in it (`experiment`)."""
    from gan_trader.config import TrackingConfig
    from gan_trader.tracking.store import open_recorder

    folder = tmp_path_factory.mktemp("store")
    open_recorder(
        TrackingConfig(uri=f"sqlite:///{folder / 'mlflow.db'}", artifact_root=folder / "a"), "warm-up"
    )
    return folder


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    """An experiment name per test, so tests sharing the store do not see each other's runs."""
    return request.node.name[:200]
