"""make results: README's result part is rewritten between its markers from a logged leaderboard."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_results.py"
spec = importlib.util.spec_from_file_location("readme_results", SCRIPT)
assert spec is not None and spec.loader is not None
readme_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_results)


def test_rewrite_replaces_only_the_marked_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_results.START}\nold table\n{readme_results.END}\noutro\n")
    readme_results.rewrite(readme, "new table")
    assert readme.read_text() == f"intro\n{readme_results.START}\nnew table\n{readme_results.END}\noutro\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit) as stopped:
        readme_results.rewrite(readme, "x")
    assert stopped.value.code == 2
    assert f"{readme}: the markers" in capsys.readouterr().err
    assert readme.read_text() == "no markers\n"


@pytest.mark.parametrize(
    ("script", "args", "named"),
    [
        ("readme_results.py", ["--experiment", "nothing_here"], "tracking.uri: no tracking store at"),
        ("readme_compare.py", ["{tmp}/no_compare"], "no_compare: no comparison.json"),
        ("readme_study.py", ["--experiment", "nothing_here"], "'nothing_here' has no finished study"),
    ],
)
def test_a_readme_script_without_its_input_says_so_and_exits_2(
    tmp_path: Path, script: str, args: list[str], named: str
) -> None:
    """The README scripts stop as the project's commands do: one line naming what is missing, exit code 2,
    README untouched."""
    readme = tmp_path / "README.md"
    readme.write_text("unchanged\n")
    command = [
        sys.executable,
        str(SCRIPT.parent / script),
        *[arg.format(tmp=tmp_path) for arg in args],
        "--readme",
        str(readme),
    ]
    if script != "readme_compare.py":
        command += ["--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"]
    if script == "readme_study.py":
        command += ["--artifact-root", str(tmp_path / "artifacts"), "--out", str(tmp_path / "study")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
    assert readme.read_text() == "unchanged\n"


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


# ---------------------------------------------------------------- each table opens with what it shows


def test_points_table_says_in_words_who_beats_persistence_and_shows_the_dm_direction() -> None:
    """`DM p 0.000664` alone did not tell a newcomer that the GAN is significantly *worse*."""
    table = pd.DataFrame(
        {
            "days": [1422] * 4,
            "relmae": [0.9999, 1.0, 1.0131, 1.0727],
            "dm_stat": [-0.77, float("nan"), 3.405, 6.52],
            "dm_pvalue": [0.4417, float("nan"), 0.000664, 1.03e-10],
        },
        index=pd.Index(["garch_t", "persistence", "gan", "xgboost"], name="model"),
    )
    sentence = readme_results.points_sentence(table)
    assert sentence == (
        "No model beats persistence significantly (DM p < 0.05); the GAN is significantly worse "
        "(MAE / persistence 1.0131, DM t +3.40, p 0.000664); significantly worse than persistence too: "
        "xgboost."
    )
    text = readme_results.markdown_table(table, readme_results.POINT_COLUMNS)
    assert "| DM t (+ = worse) | DM p |" in text.splitlines()[0]
    assert (
        "| gan | 1422 | 1.0131 | +3.40 | 0.000664 |" in text and "| garch_t | 1422 | 0.9999 | -0.77 |" in text
    )
    better = table.assign(relmae=[0.98, 1.0, 1.0131, 1.0727], dm_pvalue=[0.01, float("nan"), 0.000664, 1e-10])
    assert readme_results.points_sentence(better).startswith("garch_t beats persistence significantly")


def test_distributions_and_folds_tables_say_where_the_gan_stands() -> None:
    table = pd.DataFrame(
        {
            "crps_rel": [0.9885, 1.0, 0.9999],
            "crps_dm_stat": [float("nan"), 3.1, 2.53],
            "crps_dm_pvalue": [float("nan"), 8.5e-06, 0.0116],
        },
        index=pd.Index(["garch_t", "gauss_60d", "gan"], name="model"),
    )
    sentence = readme_results.distributions_sentence(table)
    assert sentence.startswith("garch_t has the lowest CRPS rel (0.9885; below 1 beats")
    assert "the GAN's is 0.9999, significantly worse than garch_t (the best simple baseline)" in sentence
    assert "(DM t +2.53, p 0.0116)" in sentence
    folds = pd.DataFrame(
        {
            "fold": [0, 1, 0, 1],
            "seed": [7, 7, 7, 7],
            "model": ["gan", "gan", "garch_t", "garch_t"],
            "relmae": [1.0, 1.2, 1.0, 1.0],
            "crps_rel": [0.98, 1.02, 0.97, 0.99],
            "coverage_90": [0.9, 0.8, 0.9, 0.9],
        }
    )
    text = readme_results.folds_sentence(readme_results.fold_summary(folds), 2, 1)
    assert text.startswith("Over 2 folds x 1 seed(s), garch_t has the lowest mean CRPS rel (0.9800 ± 0.0141)")
    assert "the GAN: MAE / persistence 1.1000 ± 0.1414, CRPS rel 1.0000 ± 0.0283" in text


def test_tuning_and_compare_tables_open_with_a_sentence() -> None:
    episodes = pd.DataFrame(
        {"index": [0, 1, 2, 1000], "val/crps_rel": [1.0685, 1.0502, 0.9958, 0.9], "action": ["new"] * 4}
    )
    assert readme_results.tuning_sentence(episodes, "val/crps_rel") == (
        "The session tried 3 episodes; the best, episode 2, reached val/crps_rel 0.9958 (below 1: better "
        "than the trailing-60-day Gaussian on those days), and its hyperparameters were refitted on every "
        "fold."
    )
    # After racing, the sentence names the set that was refitted: the reference here, not episode 2's.
    raced = {"select/is_reference": 1.0, "select/reference_val": 0.9867, "select/selected_val": 0.9867}
    text = readme_results.tuning_sentence(episodes, "val/crps_rel", raced)
    assert "the session selected the reference set" in text and "episode 2, reached" in text
    assert "its hyperparameters were refitted" not in text
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import readme_compare
    finally:
        sys.path.remove(str(SCRIPT.parent))

    def table(fixed_val: float, fixed_test: float) -> pd.DataFrame:
        rows = {"rl": (0.969, 1.005), "bo": (0.970, 1.006), "fixed": (fixed_val, fixed_test)}
        return pd.DataFrame(
            [
                {
                    "strategy": name,
                    "best_val_mean": val,
                    "best_val_std": 0.002,
                    "test_selected_mean": test,
                    "test_selected_std": 0.001,
                    "seeds": 8,
                }
                for name, (val, test) in rows.items()
            ]
        )

    sentence = readme_compare.compare_sentence(table(0.968, 1.004), "val/crps_rel")
    assert "lowest mean test score of the selected set: fixed" in sentence
    assert "no search strategy beat restarting the config's own hyperparameters" in sentence
    sentence = readme_compare.compare_sentence(table(0.968, 1.0055), "val/crps_rel")
    assert "on test, rl had a lower mean than fixed" in sentence and sentence.endswith("over 8 seeds.")
