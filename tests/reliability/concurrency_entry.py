"""One of two processes that share a file in one folder (run by test_concurrency.py).

    python concurrency_entry.py MODE FOLDER NAME

It writes FOLDER/ready-NAME, waits for FOLDER/go (so both processes start the shared work together), does
MODE's work and prints one JSON line about it. Modes: `lock` (a read-modify-write counter under
io.file_lock), `features` (build one feature-cache entry), `policy` (load or train one saved policy),
`embeddings` (store and merge embedding chunks). The shared work is slowed down where a lost race would
otherwise be rare.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROWS = 150  # embedding rows each process stores, one chunk each


def _wait_for_go(folder: Path, name: str) -> None:
    (folder / f"ready-{name}").touch()
    deadline = time.monotonic() + 120
    while not (folder / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)


def lock(folder: Path, name: str) -> dict[str, Any]:
    from gan_trader.io import file_lock

    counter = folder / "counter.txt"
    _wait_for_go(folder, name)
    for _ in range(200):
        with file_lock(counter):
            value = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(value + 1))
    return {"done": True}


def synthetic_prices(days: int = 400) -> pd.DataFrame:
    """The same seeded random walk in both processes (so they share one cache key)."""
    rng = np.random.default_rng(3)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
    index = pd.bdate_range("2015-01-02", periods=days, name="date")
    return pd.DataFrame(
        {
            "open": close * 0.99,
            "high": close * 1.01,
            "low": close * 0.98,
            "close": close,
            "volume": rng.integers(1000, 2000, days).astype(float),
        },
        index=index,
    )


def features(folder: Path, name: str) -> dict[str, Any]:
    from gan_trader.features.base import BuildContext
    from gan_trader.features.pipeline import FeaturePipeline

    build = FeaturePipeline._build

    def slow_build(self: FeaturePipeline, frame: pd.DataFrame, train_end: pd.Timestamp) -> Any:
        time.sleep(1.0)
        return build(self, frame, train_end)

    FeaturePipeline._build = slow_build  # type: ignore[method-assign]
    frame = synthetic_prices()
    pipeline = FeaturePipeline({"technical": {}}, BuildContext(target="X"), folder / "cache")
    _wait_for_go(folder, name)
    built = pipeline.fit_transform(frame, frame.index[280])
    return {"from_cache": built.from_cache, "rows": len(built.frame), "columns": len(built.columns)}


def policy(folder: Path, name: str) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from state_files import instant_result, session_config

    from gan_trader.tuning import agents
    from gan_trader.tuning.space import SearchSpace
    from gan_trader.workflow.prepare import prepare

    train = agents.train_policy

    def slow_train(*args: Any, **kwargs: Any) -> Any:
        with open(folder / "trained.txt", "a") as handle:
            handle.write(name + "\n")
        time.sleep(0.5)
        return train(*args, **kwargs)

    agents.train_policy = slow_train  # type: ignore[assignment]
    agents.PRETRAINED_DIR = folder / "no-shipped-policy"  # train one, as for a search space nothing ships for
    store = folder / "store"
    store.mkdir(exist_ok=True)
    config = session_config(
        folder,
        store,
        "data.start=2015-06-01",
        "tuning.agent.train_steps=4",
        "tuning.agent.proxy_rows=200",
    )
    task = prepare(config, use_cache=False).task
    space = SearchSpace(config.tuning.space)
    _wait_for_go(folder, name)
    loaded = agents.load_or_train_policy(config, task, space, runner=instant_result)
    return {"observations": int(loaded.model.observation_space.shape[0])}


def embeddings(folder: Path, name: str) -> dict[str, Any]:
    from gan_trader.sentiment import cache

    cache.MAX_CHUNKS = 4  # merges all the time
    store = cache.EmbeddingCache(folder / "embeddings", "model")
    _wait_for_go(folder, name)
    for number in range(ROWS):
        store.store([f"{name} headline {number}"], np.full((1, 3), number, np.float32))
    return {"rows": len(store)}


MODES = {"lock": lock, "features": features, "policy": policy, "embeddings": embeddings}

if __name__ == "__main__":
    mode, folder, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    print(json.dumps(MODES[mode](folder, name)))
