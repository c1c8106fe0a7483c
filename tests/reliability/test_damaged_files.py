"""Every kind of file gan-trader writes and reads back, damaged (cut short, or overwritten with junk).

Derived data (feature cache entries, sentiment embeddings, forecasts, plots) is rebuilt or left out with a
logged warning; state that cannot be rebuilt (session state, strategy and optimiser state, GAN
checkpoints, saved policies, a logged session's config, the tracking store) stops with one line naming the
file and what to do, exit code 2 from the CLI, never a traceback.

The kinds, where they are read back, and their out-of-date counterparts in test_versions.py:
feature cache (features/pipeline.py), embedding chunks (sentiment/cache.py), forecasts .npz and plots
(workflow/report.py), state.json (tuning/session.py), random.json / optimizer.json / optimizer.bo.json
(tuning/strategies.py, tuning/bayes.py), *.pt (models/wgan.py), policies (tuning/agents.py), a session's
logged config.yaml (workflow/report.py), the MLflow database (tracking/).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import CliRunner
from one_line import assert_one_line
from state_files import overwrite, resume_from_cli, run_instant_session, session_config, truncate

from gan_trader.data.panel import Panel
from gan_trader.errors import DamagedFileError
from gan_trader.features.base import BuildContext
from gan_trader.features.pipeline import FeaturePipeline
from gan_trader.io import SESSION_STATE_FORMAT, write_json
from gan_trader.models.base import Forecast, ForecastTask, save_forecast
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.session import sessions_dir

DAMAGES: dict[str, Callable[[Path], None]] = {"cut short": truncate, "overwritten": overwrite}


# derived data: rebuilt with a warning -----------------------------------------------------------------


@pytest.mark.parametrize("part", ["frame", "meta", "table"])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_feature_cache_entry_is_rebuilt(
    part: str, damage: str, small_panel: Panel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = FeaturePipeline({"technical": {}, "checks": {}}, BuildContext(target="MSFT"), tmp_path)
    frame = small_panel.frame
    train_end = frame.index[int(len(frame) * 0.7)]
    first = pipeline.fit_transform(frame, train_end)
    [entry] = [p for p in tmp_path.glob("*.parquet") if p.suffixes == [".parquet"]]
    target = {
        "frame": entry,
        "meta": entry.with_suffix(".json"),
        "table": entry.with_suffix(".checks.parquet"),
    }[part]
    DAMAGES[damage](target)
    with caplog.at_level(logging.WARNING, logger="gan_trader.features.pipeline"):
        again = pipeline.fit_transform(frame, train_end)
    assert not again.from_cache
    assert any(
        "cannot be read back" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records
    )
    pd.testing.assert_frame_equal(again.features, first.features)
    assert pipeline.fit_transform(frame, train_end).from_cache  # the rebuilt entry is whole


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_embedding_chunk_is_encoded_again(
    damage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gan_trader.sentiment.cache import EmbeddingCache

    texts = ["rates rise", "shares fall", "profit beats"]
    values = np.arange(9, dtype=np.float32).reshape(3, 3)
    chunk = EmbeddingCache(tmp_path, "model").store(texts, values)
    assert chunk is not None
    DAMAGES[damage](chunk)
    with caplog.at_level(logging.WARNING, logger="gan_trader.sentiment.cache"):
        found, missing = EmbeddingCache(tmp_path, "model").lookup(texts)
    assert found == {} and missing == [0, 1, 2]  # encoded again, never read as valid
    assert any("damaged chunk" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_forecast_is_rebuilt(
    damage: str, small_task: ForecastTask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gan_trader.workflow.report import read_forecasts

    origins = small_task.origins("test")
    forecasts = {
        name: Forecast.from_returns(name, small_task, origins, np.full(len(origins), value))
        for name, value in (("drift", 0.001), ("persistence", 0.0))
    }
    for name, forecast in forecasts.items():
        save_forecast(forecast, tmp_path / f"{name}.npz")
    DAMAGES[damage](tmp_path / "drift.npz")
    asked: list[str] = []

    def rebuild(name: str) -> Forecast:
        asked.append(name)
        return forecasts[name]

    with caplog.at_level(logging.WARNING, logger="gan_trader.workflow.report"):
        read = read_forecasts(tmp_path, rebuild)
    assert asked == ["drift"]
    assert [f.model for f in read] == ["drift", "persistence"]
    assert any("drift.npz cannot be read back" in r.getMessage() for r in caplog.records)
    # One that cannot be rebuilt either is left out, with a warning.
    assert [f.model for f in read_forecasts(tmp_path, lambda name: None)] == ["persistence"]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_plot_is_left_out_of_the_report(
    damage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import matplotlib.pyplot as plt

    from gan_trader.workflow.report import intact_figures

    for name in ("predicted_epoch_1", "predicted_epoch_2"):
        figure, axis = plt.subplots()
        axis.plot([1, 2, 3])
        figure.savefig(tmp_path / f"{name}.png")
        plt.close(figure)
    DAMAGES[damage](tmp_path / "predicted_epoch_1.png")
    with caplog.at_level(logging.WARNING, logger="gan_trader.workflow.report"):
        figures = intact_figures(tmp_path)
    assert list(figures) == ["predicted_epoch_2"]
    assert any("predicted_epoch_1.png cannot be read back" in r.getMessage() for r in caplog.records)


# state: one line naming the file and what to do --------------------------------------------------------


def _session_folder(tmp_path: Path, shared_store: Path, experiment: str, task: ForecastTask, strategy: str):
    config = session_config(tmp_path, shared_store)
    recorder = open_recorder(config.tracking, experiment)
    result = run_instant_session(config, task, recorder, strategy, episodes=2)
    return config, recorder, result.session_id, sessions_dir(config) / result.session_id


STATE_FILES = {  # strategy -> the files of its saved state
    "random": ["state.json", "strategy/random.json"],
    "bo": ["strategy/optimizer.json", "strategy/optimizer.bo.json"],
}


@pytest.mark.parametrize(
    ("strategy", "name"), [(s, name) for s, names in STATE_FILES.items() for name in names]
)
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_session_state_stops_resume_with_one_line(
    strategy: str,
    name: str,
    damage: str,
    tmp_path: Path,
    shared_store: Path,
    experiment: str,
    small_task: ForecastTask,
) -> None:
    config, recorder, session_id, folder = _session_folder(
        tmp_path, shared_store, experiment, small_task, strategy
    )
    DAMAGES[damage](folder / name)
    with pytest.raises(DamagedFileError) as info:
        run_instant_session(config, small_task, recorder, strategy, episodes=3, resume=session_id)
    assert_one_line(info.value, str(folder / name), "damaged", "start a new session")


def test_session_state_missing_a_key_is_damaged(
    tmp_path: Path, shared_store: Path, experiment: str, small_task: ForecastTask
) -> None:
    config, recorder, session_id, folder = _session_folder(
        tmp_path, shared_store, experiment, small_task, "fixed"
    )
    write_json(folder / "state.json", {"format": SESSION_STATE_FORMAT, "session_id": session_id})
    with pytest.raises(DamagedFileError) as info:
        run_instant_session(config, small_task, recorder, "fixed", resume=session_id)
    assert_one_line(info.value, str(folder / "state.json"), "damaged session state", "strategy")


def test_cli_resume_of_a_damaged_session_exits_2(
    in_tmp: Path, shared_store: Path, run_cli: CliRunner
) -> None:
    state = in_tmp / "runs" / "sessions" / "0123abcd" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"format": 1, "session_id": "0123abcd", "episodes": {"0": {"ind')
    code, err, lines = resume_from_cli(run_cli, shared_store, "0123abcd", "--strategy", "fixed")
    assert code == 2 and "Traceback" not in err, err
    assert len(lines) == 1 and str(state) in lines[0] and "damaged session state" in lines[0], err


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_checkpoint_is_one_line(damage: str, tmp_path: Path) -> None:
    import torch

    from gan_trader.io import CHECKPOINT_FORMAT
    from gan_trader.models.wgan import read_checkpoint

    path = tmp_path / "last.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "trainer": {"w": torch.zeros(64, 64)}, "seed": 0}, path)
    assert read_checkpoint(path, "cpu")["seed"] == 0
    DAMAGES[damage](path)
    with pytest.raises(DamagedFileError) as info:
        read_checkpoint(path, "cpu")
    assert_one_line(info.value, str(path), "damaged GAN checkpoint", "delete it")


def _saved_policy(path: Path) -> int:
    """A small saved PPO policy (CartPole's observations); returns its observation size."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    from gan_trader.tuning.agents import Policy

    model = PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=8, batch_size=8, device="cpu", seed=0)
    Policy(model, "ppo").save(path)
    return 4


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_policy_is_one_line(damage: str, tmp_path: Path) -> None:
    from gan_trader.tuning.agents import Policy

    path = tmp_path / "ppo.zip"
    size = _saved_policy(path)
    assert Policy.load("ppo", path, size) is not None
    DAMAGES[damage](path)
    with pytest.raises(DamagedFileError) as info:
        Policy.load("ppo", path, size)
    assert_one_line(info.value, str(path), "damaged saved policy", "delete it", "tuning.agent.policy_path")


def test_damaged_logged_config_stops_the_report(
    tmp_path: Path, shared_store: Path, experiment: str, small_task: ForecastTask
) -> None:
    from gan_trader.config import TrackingConfig
    from gan_trader.workflow.report import report_session

    tracking = TrackingConfig(uri=f"sqlite:///{shared_store / 'mlflow.db'}", artifact_root=tmp_path)
    recorder = open_recorder(tracking, experiment)
    session = recorder.start_session("damaged")
    recorder.log_text(session, "name: tiny\ndata: {target: [MSFT\n", "config.yaml")
    origins = small_task.origins("test")
    save_forecast(
        Forecast.from_returns("persistence", small_task, origins, np.zeros(len(origins))), tmp_path / "p.npz"
    )
    recorder.log_artifact(session, tmp_path / "p.npz", "forecasts")
    recorder.finish(session)
    with pytest.raises(DamagedFileError) as info:
        report_session(session, tmp_path / "report.html", tracking.uri)
    assert_one_line(info.value, session, "config.yaml cannot be read back", "run the experiment again")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_tracking_store_is_one_line(damage: str, in_tmp: Path, run_cli: CliRunner) -> None:
    database = in_tmp / "mlflow.db"
    database.write_bytes(b"SQLite format 3\x00" + bytes(8192))
    DAMAGES[damage](database)
    code, _out, err = run_cli(["episodes", "list", "--tracking-uri", f"sqlite:///{database}"])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "cannot open the tracking store" in lines[0] and "restore it from a backup" in lines[0]
