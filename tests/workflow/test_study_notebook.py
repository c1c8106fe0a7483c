"""The example notebook (experiments/study.ipynb) runs from top to bottom on a tiny logged study."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_files import write_prices, write_study

from gan_trader.workflow.study import load_study, run_study

NOTEBOOK = Path(__file__).resolve().parents[2] / "experiments" / "study.ipynb"

TINY = """
name: notebook_study
set: ["data.assets=[NOISE]"]
targets: [SYN_A, SYN_B]
seeds: [1]
feature_sets: [history, volatility]
models: [quantile_regression]
per_target: [gauss_60d, garch_t]
"""


def test_the_notebook_draws_a_logged_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    write_prices(tmp_path / "prices")
    monkeypatch.chdir(tmp_path)
    run = run_study(load_study(write_study(tmp_path, TINY)), quiet=True)
    monkeypatch.setenv("GAN_TRADER_STUDY", "notebook_study")
    monkeypatch.setenv("GAN_TRADER_STUDY_ID", run.study_id)
    monkeypatch.setenv("GAN_TRADER_TRACKING_URI", f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    monkeypatch.setenv("GAN_TRADER_ARTIFACT_ROOT", str(tmp_path / "runs" / "artifacts"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert run.study_id in text and "quantile_regression" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
