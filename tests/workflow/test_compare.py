"""The strategy comparison's table on synthetic sessions: each session's selected set judged on its own runs
(mean validation and test score), mean ± std over seeds, the tests against fixed (difference ± SE, paired
one-sided DM on per-day CRPS); and README's part rewritten from it."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_trader.config import load_config
from gan_trader.workflow.compare import (
    against_fixed,
    findings,
    guard_null,
    recompute_comparison,
    select_episodes,
    summarize,
    summary_markdown,
    write_comparison,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# (strategy, seed) -> episodes as (validation score, test score, role); NaN: a failed episode. Role "s": one
# of the runs the selected set is judged on, "r": the reference's, "rs": both (the reference was selected).
SESSIONS = {
    ("bo", 1): [(1.20, 1.10, "r"), (1.00, 0.90, ""), (1.05, 0.50, "s"), (1.00, 0.70, "s")],  # another set
    ("bo", 2): [(0.98, 0.96, "rs"), (math.nan, math.nan, ""), (0.99, 0.80, "rs")],  # kept the reference
    ("fixed", 1): [(1.10, 1.00, "rs"), (1.10, 0.70, "rs")],  # the reference restarted: all its runs
    ("fixed", 2): [(1.30, 1.20, "rs"), (1.04, 1.02, "rs")],
    ("pb2", 1): [(math.nan, math.nan, "")],  # nothing finished: nothing selected
}


def _frame() -> pd.DataFrame:
    rows = []
    for (strategy, seed), episodes in SESSIONS.items():
        best = math.inf
        for index, (val, test, role) in enumerate(episodes):
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
                    "selected": "s" in role,
                    "reference_run": "r" in role,
                    "wall_s": 10.0 * seed,
                }
            )
    frame = pd.DataFrame(rows)
    days = pd.date_range("2017-01-02", periods=40, freq="B")
    waves = {"bo": np.sin(np.arange(40)), "fixed": np.cos(np.arange(40))}
    daily = [  # per-day CRPS of each session's selected set: bo's lower than fixed's every day but noisily
        pd.DataFrame(
            {"strategy": name, "seed": seed, "date": days, "crps": level + 0.001 * waves[name] * seed}
        )
        for (name, seed), level in {
            ("bo", 1): 0.009,
            ("bo", 2): 0.0095,
            ("fixed", 1): 0.010,
            ("fixed", 2): 0.010,
        }.items()
    ]
    frame.attrs["daily"] = pd.concat(daily, ignore_index=True)
    return frame


def test_each_session_reports_its_selected_sets_mean_over_the_runs_it_is_judged_on() -> None:
    selected = select_episodes(_frame())
    bo1 = selected.loc[("bo", 1)]
    assert bo1["best_val"] == pytest.approx(1.025) and bo1["test_selected"] == pytest.approx(0.60)
    assert bo1["reference_test"] == pytest.approx(1.10) and bo1["chose_other"] == 1.0
    assert selected.loc[("bo", 2), "test_selected"] == pytest.approx(0.88)  # the failed episode left out
    assert selected.loc[("bo", 2), "chose_other"] == 0.0
    assert selected.loc[("fixed", 1), "test_selected"] == pytest.approx(0.85)  # every restart, not the best
    assert math.isnan(selected.loc[("pb2", 1), "best_val"]) and selected.loc[("pb2", 1), "epochs_spent"] == 2
    assert selected.loc[("bo", 2), ["epochs_spent", "episodes", "wall_s"]].tolist() == [6, 3, 20.0]


def test_strategies_are_tested_against_fixed() -> None:
    tests = against_fixed(_frame())
    bo = tests.loc["bo"]
    fixed_scores, bo_scores = pd.Series([0.85, 1.11]), pd.Series([0.60, 0.88])
    assert bo["test_difference"] == pytest.approx(bo_scores.mean() - fixed_scores.mean())
    se = math.sqrt(bo_scores.var() / 2 + fixed_scores.var() / 2)
    assert bo["test_difference_se"] == pytest.approx(se) and not bo["worse_than_fixed"]
    # Per day, bo's CRPS (mean over its seeds) is below fixed's: a negative statistic, a small one-sided p.
    assert bo["dm_stat"] < 0 and bo["dm_p_better"] < 0.01 and bo["dm_days"] == 40
    flipped = _frame()
    flipped.attrs["daily"] = flipped.attrs["daily"].assign(
        strategy=flipped.attrs["daily"]["strategy"].map({"bo": "fixed", "fixed": "bo"})
    )
    assert against_fixed(flipped).loc["bo", "dm_p_better"] > 0.99  # worse than fixed: no evidence
    assert tests.loc["pb2", "worse_than_fixed"] is None  # one seed: no standard error, the guard undecided
    # The session as the unit: bo's two sessions (0.60, 0.88) against fixed's (0.85, 1.11), Welch's t.
    se_welch = math.sqrt(bo_scores.var() / 2 + fixed_scores.var() / 2)
    assert bo["session_t"] == pytest.approx((bo_scores.mean() - fixed_scores.mean()) / se_welch)
    assert 0.05 < bo["session_p_better"] < 0.5  # better on average, but two noisy sessions a side
    assert math.isnan(tests.loc["pb2", "session_p_better"])  # one session: no test
    assert bo["session_p_holm"] == pytest.approx(bo["session_p_better"])  # the family's only finite p
    found = findings(_frame())
    assert found["worse_than_fixed"] == [] and not found["guard_decided"] and found["chose_other"] == 1


def test_the_difference_is_split_by_whether_a_seed_kept_the_reference() -> None:
    bo = against_fixed(_frame()).loc["bo"]
    # Seed by seed against fixed's session of the same seed: seed 2 kept the reference (0.88 vs 1.11), seed 1
    # selected another set (0.60 vs 0.85).
    assert bo["kept_sessions"] == 1 and bo["kept_difference"] == pytest.approx(0.88 - 1.11)
    assert bo["other_sessions"] == 1 and bo["other_difference"] == pytest.approx(0.60 - 0.85)


def _null_frame(seeds: int, strategies: list[str], runs: int = 3) -> pd.DataFrame:
    """fixed restarted 10 times per seed and strategies that kept the reference on `runs` restarts, every
    test score drawn from one normal: nothing but restart noise."""
    rng = np.random.default_rng(5)
    rows = []
    for seed in range(seeds):
        for name, count in [("fixed", 10)] + [(name, runs) for name in strategies]:
            for episode in range(count):
                score = 1.0 + rng.normal(0.0, 0.004)
                rows.append(
                    {"strategy": name, "seed": seed, "episode": episode, "epochs_spent": 6 * (episode + 1)}
                    | {"val_error": score, "test_error": score, "selected": True, "reference_run": True}
                    | {"test_persistence": math.nan, "wall_s": 1.0}
                )
    return pd.DataFrame(rows)


def test_the_guards_false_alarm_rate_is_that_of_a_one_standard_error_rule() -> None:
    frame = _null_frame(30, ["rl", "bo", "random"])
    null = guard_null(frame, draws=20_000)
    assert null is not None and null.restart_sd == pytest.approx(0.004, rel=0.1)
    assert (null.baseline_runs, null.strategy_runs, null.seeds, null.strategies) == (10, 3, 30, 3)
    # With 30 seeds the difference over its standard error is nearly normal: P(Z > 1) = 0.159.
    assert null.per_strategy == pytest.approx(0.159, abs=0.012)
    # Three strategies against one shared draw of fixed: more often than one, less than three independent.
    assert null.per_strategy < null.any_strategy < 1 - (1 - null.per_strategy) ** 3
    assert findings(frame)["guard_null"]["any_strategy"] == pytest.approx(null.any_strategy)
    assert guard_null(_null_frame(1, ["rl"])) is None  # one seed: no guard to simulate


def test_a_written_comparison_is_recomputed_from_its_own_episodes(tmp_path: Path) -> None:
    facts = {"command": "x", "budget_epochs": 6, "seeds": [1, 2], "objective": "val/crps_rel"}
    facts |= {"runtime_s": 125.0, "strategies": ["bo", "fixed", "pb2"], "findings": {}}
    paths = write_comparison(_frame(), "val/crps_rel", facts["strategies"], tmp_path, facts)
    paths["comparison.md"].write_text("stale\n", encoding="utf-8")
    recompute_comparison(tmp_path)
    assert "| bo | -0.2400 ± 0.1910 | no | 1: -0.2300 | 1: -0.2500 |" in paths["comparison.md"].read_text()
    written = json.loads(paths["comparison.json"].read_text())
    assert written["runtime_s"] == 125.0 and written["findings"]["chose_other"] == 1


def test_summary_is_mean_and_sample_std_over_seeds_in_the_frames_order() -> None:
    summary = summarize(_frame())
    assert list(summary.index) == ["bo", "fixed", "pb2"]
    assert summary.loc["bo", "best_val_mean"] == pytest.approx((1.025 + 0.985) / 2)
    assert summary.loc["bo", "test_selected_mean"] == pytest.approx(0.74)
    assert summary.loc["fixed", "test_selected_std"] == pytest.approx(pd.Series([0.85, 1.11]).std())
    assert summary.loc["pb2", "seeds"] == 1 and math.isnan(summary.loc["pb2", "test_selected_std"])
    table = summary_markdown(summary, "val/crps_rel").splitlines()
    assert table[0].startswith(
        "| strategy | validation val/crps_rel of the selected set | test crps_rel of the selected set"
    )
    assert table[2] == (
        "| bo | 1.005 ± 0.028 | 0.7400 ± 0.1980 | 0.50 ± 0.71 | 1.000 ± 0.000 | 7.0 ± 1.4 | 3.5 ± 0.7 "
        "| 15 ± 7 |"
    )
    assert table[4] == "| pb2 | - | - | 0.00 | - | 2.0 | 1.0 | 10 |"  # one seed: no std


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
    facts["findings"] = {"worse_than_fixed": ["pb2"], "sessions": 5, "chose_other": 1, "rl_vs_fixed_p": None}
    folder = tmp_path / "docs" / "compare"
    paths = write_comparison(_frame(), config.tuning.objective, ["bo", "fixed", "pb2"], folder, facts)
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
    assert "6 GAN epochs per strategy and seed (racing included), seeds 1, 2" in text
    assert "](docs/compare/comparison.png)" in text and "| bo | 1.005 ± 0.028 |" in text
    assert "| bo | -0.2400 ± 0.1910 | no |" in text  # the test against fixed
    assert "by more than one standard error: pb2. The moonshot" in text and "p = n/a" in text
    assert "one-sided p over sessions (Welch t; Holm over the strategies) |" in text
    assert "with the session as the unit" in text
    assert "1 of 5 sessions selected a set other than the reference." in text
