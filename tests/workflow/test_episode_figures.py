"""The report's episode plots: fetched through the Recorder, the plots alone (never the checkpoints), from a
local store and from one whose artifacts are reached through download only (a tracking server)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from gan_trader.config import TrackingConfig
from gan_trader.tracking.store import MlflowRecorder, open_recorder
from gan_trader.workflow.report import episode_figures


@pytest.mark.parametrize("remote", [False, True], ids=["local-store", "remote-artifacts"])
def test_episode_figures_fetch_the_plots_alone(
    tmp_path: Path, remote: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if remote:
        monkeypatch.setattr(MlflowRecorder, "artifacts_remote", property(lambda self: True))
    tracking = TrackingConfig(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=tmp_path / "artifacts")
    recorder = open_recorder(tracking, "report")
    run_id = recorder.start_episode(recorder.start_session("session"), 0)
    figure, axis = plt.subplots()
    axis.plot([1, 2, 3])
    recorder.log_figure(run_id, figure, "plots/predicted_vs_real_epoch_1.png")
    recorder.log_text(run_id, "weights", "checkpoint/last.pt")
    figures = episode_figures(recorder, run_id)
    assert set(figures) == {"predicted_vs_real_epoch_1"}
    fetched = figures["predicted_vs_real_epoch_1"].parents[1]  # the download's folder: plots/ in it
    assert sorted(p.name for p in fetched.rglob("*") if p.is_file()) == ["predicted_vs_real_epoch_1.png"]
    assert episode_figures(recorder, recorder.start_episode(run_id, 1)) == {}  # an episode without plots
    assert episode_figures(recorder, None) == {}
