"""Querying logged sessions and episodes from a small MLflow store created in tmp_path."""

from __future__ import annotations

import pytest

from gan_trader.config import TrackingConfig
from gan_trader.errors import EpisodeFailed, TrackingError
from gan_trader.tracking.episodes import EpisodeBrowser, render_episode, render_table
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import ACTION_TAG, STRATEGY_TAG


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    tracking = TrackingConfig(uri=f"sqlite:///{root}/mlflow.db", artifact_root=root / "artifacts")
    recorder = open_recorder(tracking, "demo")
    session = recorder.start_session(
        "session-a", params={"tuning": {"strategy": "rl"}}, tags={STRATEGY_TAG: "rl"}
    )
    # Episodes logged out of order: the browser must list them by index.
    for index, (lr, action) in [(1, (0.002, "new")), (0, (0.001, "new")), (2, (0.002, "continue"))]:
        with recorder.episode(
            session,
            index,
            params={"gan": {"lr_g": lr}, "suggestion": {"cnn_lr": lr / 10}},
            tags={ACTION_TAG: action},
        ) as run_id:
            for epoch in range(1, 4):
                recorder.log_metrics(
                    run_id,
                    {
                        "train/loss_d": 1.0 / epoch,
                        "train/loss_g": 2.0 / epoch,
                        "val/mae": 0.02 - 0.001 * epoch - index * 0.0001,
                    },
                    step=epoch,
                )
            recorder.log_metrics(run_id, {"tune/reward": 0.1 * index})
            recorder.log_text(run_id, "gan: {}", "config.yaml")
    with pytest.raises(EpisodeFailed), recorder.episode(session, 3, params={"gan": {"lr_g": 0.1}}) as run_id:
        recorder.log_metrics(run_id, {"train/loss_d": 1.0}, step=1)
        raise EpisodeFailed("loss_d is not finite at epoch 1")
    recorder.finish(session)
    other = recorder.start_session("session-b")
    recorder.finish(other)
    return {"uri": tracking.uri, "session": session, "other": other, "root": root}


def test_list_sessions(store):
    browser = EpisodeBrowser(store["uri"])
    sessions = browser.sessions("demo")
    assert list(sessions["session"]) == [store["other"], store["session"]]  # newest first
    row = sessions.set_index("session").loc[store["session"]]
    assert row["episodes"] == 4 and row["failed"] == 1 and row["strategy"] == "rl"
    assert row["experiment"] == "demo"


def test_episodes_in_index_order_with_action_reward_failure(store):
    browser = EpisodeBrowser(store["uri"])
    for reference in (store["session"], "session-a", store["session"][:10]):
        episodes = browser.episodes(reference)
        assert list(episodes["index"]) == [0, 1, 2, 3]
    assert list(episodes["status"]) == ["FINISHED", "FINISHED", "FINISHED", "FAILED"]
    assert list(episodes["action"][:3]) == ["new", "new", "continue"]
    assert episodes["reward"][2] == pytest.approx(0.2)
    assert episodes["failure"][3] == "loss_d is not finite at epoch 1"
    assert episodes["val/mae"][0] == pytest.approx(0.017)  # the final (last logged) value


def test_show_one_episode(store):
    browser = EpisodeBrowser(store["uri"])
    episode = browser.episode(f"{store['session']}:1")
    assert episode["index"] == 1 and episode["status"] == "FINISHED"
    assert episode["params"]["gan.lr_g"] == pytest.approx(0.002)
    assert episode["suggestion"] == {"cnn_lr": pytest.approx(0.0002)}
    assert episode["action"] == "new" and episode["reward"] == pytest.approx(0.1)
    assert episode["artifacts"] == ["config.yaml"]
    assert browser.episode(episode["run_id"][:12])["run_id"] == episode["run_id"]
    failed = browser.episode("session-a:3")
    assert failed["status"] == "FAILED" and failed["failure"].startswith("loss_d is not finite")


def test_compare_history_and_plot(store, tmp_path):
    browser = EpisodeBrowser(store["uri"])
    table = browser.compare([f"session-a:{i}" for i in (0, 2)])
    assert table.shape[1] == 2
    assert list(table.loc["action"]) == ["new", "continue"]
    assert list(table.loc["param:gan.lr_g"]) == [0.001, 0.002]
    history = browser.history("session-a:0")
    assert list(history.index) == [1, 2, 3]
    assert history["train/loss_d"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    out = browser.plot("session-a:0", tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(TrackingError, match="no per-epoch metric history"):
        browser.plot("session-a:3", tmp_path / "none.png")


def test_renderers(store):
    from rich.console import Console

    browser = EpisodeBrowser(store["uri"])
    console = Console(record=True, width=160)
    console.print(render_table(browser.episodes("session-a"), "episodes"))
    console.print(render_episode(browser.episode("session-a:3")))
    text = console.export_text()
    assert "loss_d is not finite" in text and "continue" in text


def test_missing_things_are_clear_errors(store, tmp_path):
    browser = EpisodeBrowser(store["uri"])
    with pytest.raises(TrackingError, match="session 'nope' not found"):
        browser.episodes("nope")
    with pytest.raises(TrackingError, match="has no episode 9"):
        browser.episode("session-a:9")
    with pytest.raises(TrackingError, match="experiment 'absent' not found"):
        browser.sessions("absent")
    with pytest.raises(TrackingError, match="no tracking store"):
        EpisodeBrowser(f"sqlite:///{tmp_path}/missing.db")
    assert not (tmp_path / "missing.db").exists()
