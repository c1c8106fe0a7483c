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


# ---------------------------------------------------------------- SESSION:INDEX or a run id, never a guess


def _episode_with_a_digit_first(store: dict) -> tuple[str, str, str]:
    """(session, run id, its leading digits) of an episode whose run id starts with a digit, logging
    episodes into a session of their own until one does (each does with probability 10/16)."""
    recorder = open_recorder(
        TrackingConfig(uri=store["uri"], artifact_root=store["root"] / "artifacts"), "numbers"
    )
    session = recorder.start_session("numbers")
    for index in range(40):
        with recorder.episode(session, 1200 + index) as run_id:
            pass
        if run_id[0].isdigit():
            recorder.finish(session)
            digits = run_id[: len(run_id) - len(run_id.lstrip("0123456789"))]
            return session, run_id, digits
    raise AssertionError("no run id started with a digit in 40 episodes")


def test_a_bare_number_is_refused_with_both_readings(store):
    """`episodes show 1` showed episode 1200 of another session: "1" was read as a run-id prefix."""
    session, run_id, digits = _episode_with_a_digit_first(store)
    browser = EpisodeBrowser(store["uri"])
    with pytest.raises(TrackingError) as info:
        browser.episode(digits[0])
    message = str(info.value)
    assert "\n" not in message and "a bare number reads two ways" in message
    assert "as an index" in message and "as a run-id prefix" in message
    assert "write SESSION:INDEX or more of the run id" in message
    with pytest.raises(TrackingError) as info:
        browser.episode("1")
    assert f"episode 1 of session {store['session']}" in str(info.value)
    assert f"({store['session']}:1)" in str(info.value)
    # Either reading, written out, is an episode.
    assert browser.episode(run_id)["run_id"] == run_id
    assert browser.episode(f"{store['session']}:1")["index"] == 1
    assert browser.episode(f"{session}:{1200}")["session"] == session


def test_a_session_given_as_an_episode_suggests_session_index(store):
    browser = EpisodeBrowser(store["uri"])
    for reference in (store["session"], store["session"][:10], "session-a"):
        with pytest.raises(TrackingError) as info:
            browser.episode(reference)
        message = str(info.value)
        assert "is a session, not an episode" in message
        assert f"{store['session']}:0" in message and f"--session {store['session']}" in message


def test_plot_gives_each_metric_its_own_axis_and_never_plots_epoch(store, tmp_path):
    """On one linear axis with a price-scale error, val/crps_rel came out flat; `epoch` was drawn as a
    metric."""
    import matplotlib.pyplot as plt

    from gan_trader.tracking.episodes import curves_figure

    recorder = open_recorder(
        TrackingConfig(uri=store["uri"], artifact_root=store["root"] / "artifacts"), "scales"
    )
    session = recorder.start_session("scales")
    with recorder.episode(session, 0) as run_id:
        for epoch in range(1, 5):
            recorder.log_metrics(
                run_id,
                {
                    "train/loss_d": -2.0 / epoch,
                    "val/crps_rel": 1.0 + 0.01 / epoch,
                    "val/price_mae": 300.0 / epoch,
                    "epoch": float(epoch),
                },
                step=epoch,
            )
    recorder.finish(session)
    browser = EpisodeBrowser(store["uri"])
    history = browser.history(f"{session}:0")
    assert "epoch" not in history.columns
    figure = curves_figure(history, "scales")
    panels = {axis.get_title(): axis for axis in figure.axes if axis.get_visible()}
    assert set(panels) == {"train/loss_d", "val/crps_rel", "val/price_mae"}
    for name, axis in panels.items():
        assert len(axis.lines) == 1  # alone on its axis
        low, high = axis.get_ylim()
        assert high - low < 2 * (history[name].max() - history[name].min())  # scaled to its own range
    plt.close(figure)
    assert browser.plot(f"{session}:0", tmp_path / "scales.png").read_bytes()[:4] == b"\x89PNG"
