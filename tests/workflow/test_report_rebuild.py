"""`gan-trader report SESSION` rebuilds the report `run` wrote: the same headline, folds, tuning and every
other section, from what the session logged (a small experiment with walk-forward folds and a real GAN)."""

from __future__ import annotations

import re
from pathlib import Path

from cli_runner import CliRunner

EXPERIMENT = """\
name: rebuild
seed: 7
data: {target: MSFT, prices_dir: data/prices, start: "2013-01-02"}
split: {train_end: 0.55, val_end: 0.70, walk_forward: {folds: 2}}
features: {cache_dir: runs/cache/features, builders: {technical: {}}}
gan:
  seq_len: 6
  batch_size: 64
  generator: {hidden: 4, noise_dim: 2}
  critic: {filters: [4, 8], dense: [8]}
  mh: {chains: 50, candidates: 3, critic_epochs: 1}
  val_samples: 8
  plot_epochs: [1]
  device: cpu
tuning: {strategy: random, episodes: 2, epochs_per_episode: 1, init_points: 1, warm_start: false}
tracking: {uri: "sqlite:///STORE", artifact_root: runs/artifacts}
evaluation: {baselines: [persistence, gauss_60d]}
"""


def sections(html: str) -> dict[str, str]:
    """The report's sections by title, and its header with the time stamp taken out."""
    head, *parts = html.split("<section>")
    found = {"(header)": re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "(time)", head)}
    for part in parts:
        title = re.search(r"<h2>(.*?)</h2>", part)
        assert title is not None
        found[title.group(1)] = part
    return found


def test_report_rebuilds_the_report_run_wrote(in_tmp: Path, run_cli: CliRunner) -> None:
    """The rebuilt report led with `arima beats persistence` and said folds and tuning were not available;
    the run's own report said the tuning progress had no `val/crps_rel` while every episode logged it."""
    store = in_tmp / "runs" / "mlflow.db"
    config = in_tmp / "rebuild.yaml"
    config.write_text(EXPERIMENT.replace("STORE", str(store)))
    code, _out, err = run_cli(["run", str(config), "-q"])
    assert code == 0, err
    (session,) = [p.name for p in (in_tmp / "runs" / "sessions").iterdir()]
    written = sections((in_tmp / "runs" / "reports" / "rebuild.html").read_text())
    rebuilt_path = in_tmp / "rebuilt.html"
    code, out, err = run_cli(
        ["report", session, "--out", str(rebuilt_path), "--tracking-uri", f"sqlite:///{store}"]
    )
    assert code == 0, err
    rebuilt = sections(rebuilt_path.read_text())
    assert list(rebuilt) == list(written)
    for title, body in written.items():
        assert rebuilt[title] == body, f"section {title!r} differs"
    assert '<p class="verdict">gan beats persistence on relMAE' in written["(header)"]
    for title in ("Folds and seeds", "Tuning progress", "Episodes", "The tuning&#x27;s many tries"):
        assert "not available in this run" not in written[title], title
    assert "<img" in written["Tuning progress"]
    assert "per fold, MH&#x27;s samples or the raw draws" in written["Leaderboard (test days)"]
