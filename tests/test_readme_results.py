"""make results: README's result part is rewritten between its markers from a logged leaderboard."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_results.py"
spec = importlib.util.spec_from_file_location("readme_results", SCRIPT)
assert spec is not None and spec.loader is not None
readme_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_results)


def test_rewrite_replaces_only_the_marked_part(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_results.START}\nold table\n{readme_results.END}\noutro\n")
    readme_results.rewrite(readme, "new table")
    assert readme.read_text() == f"intro\n{readme_results.START}\nnew table\n{readme_results.END}\noutro\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        readme_results.rewrite(readme, "x")


def test_tables_show_the_logged_values() -> None:
    table = pd.DataFrame(
        {
            "days": [712, 712],
            "relmae": [1.0, 1.0409],
            "dm_pvalue": [float("nan"), 0.000276],
            "no_skill": [True, False],
        },
        index=pd.Index(["persistence", "gan"], name="model"),
    )
    text = readme_results.markdown_table(table, readme_results.POINT_COLUMNS)
    assert text.splitlines()[0] == "| model | days | MAE / persistence | DM p | no skill |"
    assert "| gan | 712 | 1.0409 | 0.000276 | no |" in text and "| persistence | 712 | 1 | - | yes |" in text


def test_fold_summary_gives_mean_and_sd_over_folds() -> None:
    folds = pd.DataFrame(
        {
            "fold": [0, 1, 0, 1],
            "seed": [7, 7, 7, 7],
            "model": ["gan", "gan", "gauss_60d", "gauss_60d"],
            "relmae": [1.0, 1.2, 1.0, 1.0],
            "crps_rel": [0.98, 1.02, 1.0, 1.0],
            "coverage_90": [0.9, 0.8, 0.9, 0.9],
        }
    )
    summary = readme_results.fold_summary(folds)
    assert list(summary.index) == ["gauss_60d", "gan"]  # mean CRPS rel ties at 1: lower relmae first
    assert summary.loc["gan", "relmae"] == "1.1000 ± 0.1414" and summary.loc["gan", "runs"] == 2
    assert summary.loc["gauss_60d", "crps_rel"] == "1.0000 ± 0.0000"


def test_tuning_table_leaves_out_the_refits() -> None:
    episodes = pd.DataFrame(
        {
            "index": [0, 1, 1100],
            "action": ["new", "keep", "refit fold 1 seed 7"],
            "epochs": [10, 10, 20],
            "val/crps_rel": [1.01, 0.99, 1.2],
            "reward": [0.0, 0.002, None],
        }
    )
    text = readme_results.tuning_markdown(episodes, "val/crps_rel")
    assert text.splitlines()[0] == "| episode | action | epochs | val/crps_rel | reward |"
    assert "| 1 | keep | 10 | 0.99 | 0.002 |" in text and "refit" not in text
