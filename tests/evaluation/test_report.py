"""The HTML report: self-contained, honest about missing inputs, and every image decodes in Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gan_trader.config import load_config
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.evaluation.report import ReportData, render_report, write_report
from gan_trader.models.base import Forecast
from gan_trader.models.baselines import run_baselines
from gan_trader.workflow.prepare import prepare

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    overrides = [
        "features.cache_dir=null",
        "data.start=2009-01-01",
        "data.end=2012-12-31",
        "gan.seq_len=8",
        "features.builders={}",
    ]
    return prepare(load_config(None, overrides))


def report_inputs(prepared, tmp_path: Path):
    task = prepared.task
    origins = task.origins("test")
    forecasts = run_baselines(["drift"], task, seed=0)
    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 0.015, size=(len(origins), 30))
    forecasts.append(Forecast.from_returns("sampler", task, origins, np.median(samples, axis=1), samples))
    board = evaluate(task, forecasts, prepared.config.evaluation)
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    png = tmp_path / "val_predicted_epoch_050.png"
    figure.savefig(png)
    plt.close(figure)
    figures = {"val_predicted_epoch_001": figure_obj(), "val_predicted_epoch_050": png}
    episodes = [{"val/crps_rel": 1.02}, {"val/crps_rel": 0.99}, {"val/crps_rel": 1.01}]
    return forecasts, board, figures, episodes


def figure_obj():
    figure, axis = plt.subplots()
    axis.plot([0, 1, 2], [0, 1, 0])
    return figure


def test_report_is_self_contained_and_complete(prepared, tmp_path):
    forecasts, board, figures, episodes = report_inputs(prepared, tmp_path)
    path = write_report(
        tmp_path / "out" / "report.html",
        config=prepared.config,
        data=ReportData(prepared.task, prepared.features),
        leaderboard=board,
        forecasts=forecasts,
        episodes=episodes,
        figures=figures,
    )
    text = path.read_text()
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, no temporary left behind
    for title in (
        "Data overview",
        "Technical indicators",
        "Fourier components",
        "Feature importance",
        "Statistical checks",
        "Predicted vs real",
        "Fan chart: sampler",
        "Forecast distributions (test days)",
        "PIT histograms",
        "Reliability diagram",
        "Leaderboard",
        "Lag diagnostic",
        "Equity curves",
        "Tuning progress",
    ):
        assert title in text
    assert board.verdict in text
    sources = re.findall(r'<img[^>]*src="([^"]+)"', text)
    assert len(sources) >= 7
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text
    # No builder made indicators, Fourier terms, importances or checks here: said so, not drawn.
    builders = ("technical", "Fourier", "importance", "checks")
    assert sum(text.count(f"not available in this run: no {b} builder in this run") for b in builders) == 4
    # Parts this test gives no input for say so too (folds, the session's selection, MH diagnostics).
    for reason in ("no walk-forward folds in this run", "no tuning session in this run"):
        assert f"not available in this run: {reason}" in text
    assert "no Fourier builder in this run" in text


def test_report_without_run_inputs_says_why(prepared, tmp_path):
    forecasts = run_baselines(["drift"], prepared.task, seed=0)
    board = evaluate(prepared.task, forecasts, prepared.config.evaluation)
    text = render_report(config=prepared.config, data=None, leaderboard=board, forecasts=forecasts)
    for reason in (
        "no prepared data was given",
        "no per-epoch prediction figures were given",
        "no episode metrics with &#x27;val/crps_rel&#x27; were given",
    ):
        assert f"not available in this run: {reason}" in text


def test_report_images_decode_in_chromium(prepared, tmp_path):
    if CHROMIUM is None:
        pytest.skip("no chromium / chromium-browser on PATH (make chromium installs it)")
    forecasts, board, figures, episodes = report_inputs(prepared, tmp_path)
    path = write_report(
        tmp_path / "report.html",
        config=prepared.config,
        data=ReportData(prepared.task, prepared.features),
        leaderboard=board,
        forecasts=forecasts,
        episodes=episodes,
        figures=figures,
    )
    probe = (
        "<script>window.addEventListener('load', () => { document.body.setAttribute('data-images', "
        "JSON.stringify(Array.from(document.images, i => [i.complete, i.naturalWidth]))); });</script>"
    )
    probed = tmp_path / "probe.html"
    probed.write_text(path.read_text().replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'data-images="([^"]*)"', result.stdout)
    assert match, f"chromium gave no result: {result.stderr[-500:]}"
    images = json.loads(match.group(1).replace("&quot;", '"'))
    assert len(images) == result.stdout.count("<img")
    assert len(images) >= 7
    assert all(complete and width > 0 for complete, width in images), images
