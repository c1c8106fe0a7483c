"""The strategy comparison's table on synthetic sessions: each session's episode selected by its validation
score, that episode's test score reported, mean ± std over seeds; and README's part rewritten from it."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from gan_trader.config import load_config
from gan_trader.workflow.compare import select_episodes, summarize, summary_markdown, write_comparison

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# (strategy, seed) -> episodes as (validation score, test score); NaN: a failed episode.
SESSIONS = {
    ("bo", 1): [(1.20, 1.10), (1.00, 0.90), (1.05, 0.50)],  # selects episode 1, not the best test (0.50)
    ("bo", 2): [(0.98, 0.96), (math.nan, math.nan), (0.99, 0.80)],
    ("fixed", 1): [(1.10, 1.00), (1.10, 0.70)],  # a tie: the first episode is the one selected
    ("fixed", 2): [(1.30, 1.20), (1.04, 1.02)],
    ("pb2", 1): [(math.nan, math.nan)],  # nothing finished: nothing selected
}


def _frame() -> pd.DataFrame:
    rows = []
    for (strategy, seed), episodes in SESSIONS.items():
        best = math.inf
        for index, (val, test) in enumerate(episodes):
            best = min(best, val) if math.isfinite(val) else best
            rows.append(
                {
                    "strategy": strategy,
                    "seed": seed,
                    "episode": index,
                    "epochs_spent": 2 * (index + 1),
                    "val_error": val,
                    "best_val": best,  # as SessionResult.table has it (the figure's line)
                    "test_error": test,
                    "val_persistence": 1.0,
                    "test_persistence": 1.0,
                    "wall_s": 10.0 * seed,
                }
            )
    return pd.DataFrame(rows)


def test_each_session_selects_by_validation_and_reports_that_episodes_test_score() -> None:
    selected = select_episodes(_frame())
    assert selected.loc[("bo", 1), "best_val"] == 1.00 and selected.loc[("bo", 1), "test_selected"] == 0.90
    assert selected.loc[("bo", 2), "test_selected"] == 0.96  # the failed episode is never selected
    assert selected.loc[("fixed", 1), "test_selected"] == 1.00
    assert selected.loc[("fixed", 2), ["best_val", "test_selected"]].tolist() == [1.04, 1.02]
    assert math.isnan(selected.loc[("pb2", 1), "best_val"]) and selected.loc[("pb2", 1), "epochs_spent"] == 2
    assert selected.loc[("bo", 2), ["epochs_spent", "episodes", "wall_s"]].tolist() == [6, 3, 20.0]


def test_summary_is_mean_and_sample_std_over_seeds_in_the_frames_order() -> None:
    summary = summarize(_frame())
    assert list(summary.index) == ["bo", "fixed", "pb2"]
    assert summary.loc["bo", "best_val_mean"] == pytest.approx(0.99)
    assert summary.loc["bo", "best_val_std"] == pytest.approx(pd.Series([1.00, 0.98]).std())
    assert summary.loc["bo", "test_selected_mean"] == pytest.approx(0.93)
    assert summary.loc["fixed", "test_selected_mean"] == pytest.approx(1.01)
    assert summary.loc["fixed", "test_selected_std"] == pytest.approx(pd.Series([1.00, 1.02]).std())
    assert summary.loc["pb2", "seeds"] == 1 and math.isnan(summary.loc["pb2", "test_selected_std"])
    table = summary_markdown(summary, "val/crps_rel").splitlines()
    assert table[0].startswith(
        "| strategy | best validation val/crps_rel | test crps_rel of the selected episode"
    )
    assert (
        table[2]
        == "| bo | 0.9900 ± 0.0141 | 0.9300 ± 0.0424 | 1.000 ± 0.000 | 6.0 ± 0.0 | 3.0 ± 0.0 | 15 ± 7 |"
    )
    assert table[4] == "| pb2 | - | - | - | 2.0 | 1.0 | 10 |"  # one seed: no std


def test_a_score_no_strategy_has_is_left_out_of_the_table() -> None:
    frame = _frame().assign(test_persistence=None)
    assert "persistence" not in summary_markdown(summarize(frame), "val/crps_rel")


def test_readme_part_from_the_written_comparison(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("readme_compare", SCRIPTS / "readme_compare.py")
    assert spec is not None and spec.loader is not None
    readme_compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme_compare)
    config = load_config(None, ["tuning.objective=val/crps_rel"])
    facts = {"command": "gan-trader tune x.yaml --compare bo,fixed", "budget_epochs": 6, "seeds": [1, 2]}
    facts |= {"objective": "val/crps_rel", "runtime_s": 125.0, "cpus": 2}
    folder = tmp_path / "docs" / "compare"
    paths = write_comparison(_frame(), config, ["bo", "fixed", "pb2"], folder, facts)
    assert {path.name for path in folder.iterdir()} == set(paths) and json.loads(
        paths["comparison.json"].read_text()
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_compare.START}\nold\n{readme_compare.END}\noutro\n", encoding="utf-8")
    assert readme_compare.main([str(folder), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert (
        text.startswith("intro\n") and text.endswith(f"{readme_compare.END}\noutro\n") and "old" not in text
    )
    assert "`gan-trader tune x.yaml --compare bo,fixed` on 2 CPU cores in 2 min (125 s)" in text
    assert "6 GAN epochs per strategy and seed, seeds 1, 2" in text
    assert "](docs/compare/comparison.png)" in text and "| bo | 0.9900 ± 0.0141 |" in text
