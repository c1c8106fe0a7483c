"""Files of another format version (written by an older or newer gan-trader) are out of date, not damaged.

Derived data of another version is rebuilt; learned state of another version (saved policies, episodes an
older gan-trader logged, which the optimiser's warm start would otherwise learn from) is left out with a
logged note; the state of a session of another version stops `--resume` with one line naming the file and
its version. The versions are the constants of gan_trader/io.py, one per kind. (Plots have no version: a
PNG is an image any version shows; the damaged case is in test_damaged_files.py.)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from cli_runner import CliRunner
from one_line import assert_one_line
from state_files import instant_result, resume_from_cli, run_instant_session, session_config

from gan_trader import io
from gan_trader.data.panel import Panel
from gan_trader.errors import OutdatedFileError
from gan_trader.features.base import BuildContext
from gan_trader.features.pipeline import FeaturePipeline
from gan_trader.io import write_json
from gan_trader.models.base import Forecast, ForecastTask, save_forecast
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import FORMAT_TAG
from gan_trader.tuning.session import sessions_dir


def test_one_version_constant_per_kind() -> None:
    kinds = [name for name in vars(io) if name.endswith("_FORMAT")]
    assert sorted(kinds) == sorted(
        [
            "SESSION_STATE_FORMAT",
            "OPTIMIZER_STATE_FORMAT",
            "CHECKPOINT_FORMAT",
            "POLICY_FORMAT",
            "RUN_FORMAT",
            "FEATURE_CACHE_FORMAT",
            "EMBEDDING_CACHE_FORMAT",
        ]
    )
    assert all(isinstance(getattr(io, kind), int) for kind in kinds)


# derived data: rebuilt ----------------------------------------------------------------------------------


def test_feature_cache_entry_of_another_version_is_rebuilt(
    small_panel: Panel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = FeaturePipeline({"technical": {}}, BuildContext(target="MSFT"), tmp_path)
    frame = small_panel.frame
    train_end = frame.index[int(len(frame) * 0.7)]
    pipeline.fit_transform(frame, train_end)
    [meta_path] = tmp_path.glob("*.json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format": io.FEATURE_CACHE_FORMAT + 1}))
    with caplog.at_level(logging.WARNING, logger="gan_trader.features.pipeline"):
        assert not pipeline.fit_transform(frame, train_end).from_cache
    assert any("another format version" in r.getMessage() for r in caplog.records)
    assert pipeline.fit_transform(frame, train_end).from_cache


def test_embedding_chunk_of_another_version_is_encoded_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gan_trader.sentiment.cache import MAGIC, MAGIC_PREFIX, EmbeddingCache

    chunk = EmbeddingCache(tmp_path, "model").store(["a", "b"], np.ones((2, 3), np.float32))
    assert chunk is not None
    other = MAGIC_PREFIX + str(io.EMBEDDING_CACHE_FORMAT + 1).encode() + b"\n"
    chunk.write_bytes(other + chunk.read_bytes()[len(MAGIC) :])
    with caplog.at_level(logging.INFO, logger="gan_trader.sentiment.cache"):
        found, missing = EmbeddingCache(tmp_path, "model").lookup(["a", "b"])
    assert found == {} and missing == [0, 1]
    notes = [r for r in caplog.records if "another format version" in r.getMessage()]
    assert notes and all(r.levelno == logging.INFO for r in notes)  # a note, not a damaged-file warning


def test_forecast_of_an_older_layout_is_rebuilt(small_task: ForecastTask, tmp_path: Path) -> None:
    from gan_trader.workflow.report import read_forecasts

    origins = small_task.origins("test")
    forecast = Forecast.from_returns("drift", small_task, origins, np.full(len(origins), 0.001))
    save_forecast(forecast, tmp_path / "drift.npz")
    with np.load(tmp_path / "drift.npz") as data:
        older = {key: data[key] for key in data.files if key != "samples"}  # before samples were stored
    np.savez(tmp_path / "drift.npz", **older)
    rebuilt = read_forecasts(tmp_path, lambda name: forecast)
    assert [f.model for f in rebuilt] == ["drift"]


# learned state: left out with a note --------------------------------------------------------------------


def test_policy_of_another_version_is_left_out_and_replaced(
    tmp_path: Path, shared_store: Path, small_task: ForecastTask, caplog: pytest.LogCaptureFixture
) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO

    from gan_trader.tuning.agents import Policy, load_or_train_policy, policy_path
    from gan_trader.tuning.space import SearchSpace

    config = session_config(
        tmp_path, shared_store, "tuning.agent.train_steps=4", "tuning.agent.proxy_rows=200"
    )
    path = policy_path(config)
    path.parent.mkdir(parents=True)
    # An older gan-trader's policy: stable-baselines3's zip without the version entry (and another space).
    PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=8, batch_size=8, device="cpu").save(path)
    space = SearchSpace(config.tuning.space)
    with caplog.at_level(logging.WARNING, logger="gan_trader.tuning.agents"):
        policy = load_or_train_policy(config, small_task, space, runner=instant_result)
    assert any("no format version" in r.getMessage() and "left out" in r.getMessage() for r in caplog.records)
    reloaded = Policy.load("ppo", path, policy.model.observation_space.shape[0])
    assert reloaded is not None  # replaced by one of this version


def test_warm_start_leaves_out_episodes_of_another_version(
    tmp_path: Path, shared_store: Path, experiment: str, caplog: pytest.LogCaptureFixture
) -> None:
    from gan_trader.tuning.bayes import logged_observations
    from gan_trader.tuning.space import SearchSpace

    config = session_config(tmp_path, shared_store)
    space = SearchSpace(config.tuning.space)
    recorder = open_recorder(config.tracking, experiment)
    session = recorder.start_session("earlier")
    hyperparameters = space.sample(np.random.default_rng(0))
    for index, version in enumerate([str(io.RUN_FORMAT), "0", ""]):
        run_id = recorder.start_episode(session, index, params={"hp": hyperparameters})
        if version != str(io.RUN_FORMAT):
            recorder.set_tags(run_id, {FORMAT_TAG: version})  # "": logged before runs carried a version
        recorder.log_metrics(run_id, {"val/crps_rel": 0.9 + index})
        recorder.finish(run_id)
    with caplog.at_level(logging.INFO, logger="gan_trader.tuning.bayes"):
        found = logged_observations(recorder, space, "val/crps_rel")
    assert [objective for _, objective in found] == [0.9]
    assert any("left out 2 episodes" in r.getMessage() for r in caplog.records)


# session state: --resume stops with one line naming the file and the version -----------------------------


@pytest.mark.parametrize(
    ("strategy", "name", "rewrite"),
    [
        ("fixed", "state.json", lambda saved: {**saved, "format": io.SESSION_STATE_FORMAT + 1}),
        ("fixed", "state.json", lambda saved: {k: v for k, v in saved.items() if k != "format"}),
        ("random", "strategy/random.json", lambda saved: saved["rng"]),  # the layout before versions
        ("bo", "strategy/optimizer.json", lambda saved: {**saved, "format": 0}),
    ],
    ids=["state newer", "state unversioned", "random unversioned", "optimiser older"],
)
def test_resume_of_an_out_of_date_session_is_one_line(
    strategy: str,
    name: str,
    rewrite,
    tmp_path: Path,
    shared_store: Path,
    experiment: str,
    small_task: ForecastTask,
) -> None:
    config = session_config(tmp_path, shared_store)
    recorder = open_recorder(config.tracking, experiment)
    session_id = run_instant_session(config, small_task, recorder, strategy).session_id
    path = sessions_dir(config) / session_id / name
    saved = rewrite(json.loads(path.read_text()))
    write_json(path, saved)
    with pytest.raises(OutdatedFileError) as info:
        run_instant_session(config, small_task, recorder, strategy, resume=session_id)
    version = "no format version" if "format" not in saved else f"format version {saved['format']}"
    assert_one_line(info.value, str(path), version, "start a new session")


def test_cli_resume_of_an_out_of_date_session_exits_2(
    in_tmp: Path, shared_store: Path, run_cli: CliRunner
) -> None:
    state = in_tmp / "runs" / "sessions" / "0123abcd" / "state.json"
    write_json(state, {"format": 0, "session_id": "0123abcd"})
    code, err, lines = resume_from_cli(run_cli, shared_store, "0123abcd")
    assert code == 2 and "Traceback" not in err, err
    assert len(lines) == 1, err
    assert str(state) in lines[0] and "format version 0" in lines[0] and "reads version" in lines[0]


def test_checkpoint_of_another_version_is_one_line(tmp_path: Path) -> None:
    import torch

    from gan_trader.models.wgan import read_checkpoint

    path = tmp_path / "model.pt"
    torch.save({"format": io.CHECKPOINT_FORMAT + 1, "trainer": {}}, path)
    with pytest.raises(OutdatedFileError) as info:
        read_checkpoint(path, "cpu")
    assert_one_line(info.value, str(path), f"format version {io.CHECKPOINT_FORMAT + 1}", "delete it")


def test_report_of_a_session_logged_by_another_version_is_one_line(
    tmp_path: Path, shared_store: Path, experiment: str
) -> None:
    from gan_trader.config import TrackingConfig
    from gan_trader.workflow.report import report_session

    tracking = TrackingConfig(uri=f"sqlite:///{shared_store / 'mlflow.db'}", artifact_root=tmp_path)
    recorder = open_recorder(tracking, experiment)
    session = recorder.start_session("older", tags={FORMAT_TAG: "0"})
    recorder.finish(session)
    with pytest.raises(OutdatedFileError) as info:
        report_session(session, tmp_path / "report.html", tracking.uri)
    assert_one_line(info.value, session, "format version 0", f"reads version {io.RUN_FORMAT}")


def test_logged_runs_carry_the_format_version(tmp_path: Path, shared_store: Path, experiment: str) -> None:
    config = session_config(tmp_path, shared_store)
    recorder = open_recorder(config.tracking, experiment)
    session = recorder.start_session("now")
    episode = recorder.start_episode(session, 0)
    assert recorder.run(session).format_version == recorder.run(episode).format_version == io.RUN_FORMAT
