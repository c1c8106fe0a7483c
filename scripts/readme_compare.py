"""Put the tuning-strategy comparison that `gan-trader tune ... --compare ... --out FOLDER` wrote into README
(`make compare` runs both): the table, the figure, the command, the budget and the runtime, between the
markers below. Nothing in that part of README is typed by hand.

    python scripts/readme_compare.py [FOLDER (default docs/compare)] [--readme README.md] [--recompute]

--recompute first rewrites the folder's tables, figure and findings from its own episodes.csv and daily.csv
(workflow.compare.recompute_comparison: nothing is trained again), for a comparison written before a table
or finding was added.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
from readme_results import rewrite, stop

START = "<!-- compare:start (make compare writes this part; do not edit by hand) -->"
END = "<!-- compare:end -->"
ROOT = Path(__file__).resolve().parents[1]


def compare_sentence(table: pd.DataFrame, objective: str) -> str:
    """Which strategy did best on validation and on test, in words; `fixed` (restarts of the config's own
    hyperparameters) is the yardstick a search has to beat."""
    table = table.set_index("strategy")
    best_val = str(table["best_val_mean"].idxmin())
    best_test = str(table["test_selected_mean"].idxmin())

    def score(strategy: str, column: str) -> str:
        return f"{table.loc[strategy, f'{column}_mean']:.4g} ± {table.loc[strategy, f'{column}_std']:.2g}"

    sentence = (
        f"Lowest mean validation {objective} of the selected set: {best_val} "
        f"({score(best_val, 'best_val')}); "
        f"lowest mean test score of the selected set: {best_test} ({score(best_test, 'test_selected')})"
    )
    if "fixed" in table.index and best_val == best_test == "fixed":
        sentence += " — at this budget no search strategy beat restarting the config's own hyperparameters"
    elif "fixed" in table.index:
        ahead = [
            s
            for s in table.index
            if table.loc[s, "test_selected_mean"] < table.loc["fixed", "test_selected_mean"]
        ]
        sentence += (
            f" — on test, {', '.join(ahead) or 'none'} had a lower mean than fixed (restarts of the "
            "config's own hyperparameters; the table below tests each difference)"
        )
    return sentence + f", over {int(table['seeds'].max())} seeds."


def compare_markdown(folder: Path, readme: Path) -> str:
    """README's comparison part from the files `--compare --out FOLDER` wrote."""
    facts = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    table = (folder / "comparison.md").read_text(encoding="utf-8").strip()
    figure = Path(os.path.relpath(folder / "comparison.png", readme.parent)).as_posix()
    episodes = Path(os.path.relpath(folder / "episodes.csv", readme.parent)).as_posix()
    runtime = float(facts["runtime_s"])
    seeds = ", ".join(str(seed) for seed in facts["seeds"])
    cpus = f" on {facts['cpus']} CPU cores" if facts.get("cpus") else ""
    return "\n".join(
        [
            f"`make compare` ran `{facts['command']}`{cpus} in {runtime / 60:.0f} min ({runtime:.0f} s): "
            f"{facts['budget_epochs']} GAN epochs per strategy and seed (racing included), seeds {seeds}, "
            f"objective `{facts['objective']}` (lower is better). Mean ± standard deviation over the seeds "
            "of the validation and test scores of the set each session selected (each the mean over the runs "
            "the set is judged on), then each strategy against `fixed`. "
            + compare_sentence(pd.read_csv(folder / "comparison.csv"), facts["objective"]),
            "",
            table,
            "",
            *targets(facts.get("findings") or {}),
            f"![best validation score against GAN epochs spent, mean over seeds]({figure})",
            "",
            f"Every episode of every session: [`{episodes}`]({episodes}).",
        ]
    )


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def targets(found: dict) -> list[str]:
    """The targets as the comparison answers them (compare.findings), in words; nothing when not computed."""
    if not found:
        return []
    worse = found.get("worse_than_fixed") or []
    guard = (
        f"worse on test than fixed's by more than one standard error: {', '.join(worse)}"
        if worse
        else "no strategy's selected set is worse on test than fixed's by more than one standard error"
        if found.get("guard_decided", True)
        else "not decided (one seed gives no standard error)"
    )
    chose = (
        f"{found.get('chose_other', 0)} of {found.get('sessions', 0)} sessions selected a set other than the "
        "reference"
    )
    if not found.get("chose_other"):
        chose += (
            " (the search space held nothing that beat the config's own set on fresh seeds at this budget)"
        )
    lines = [
        f"The guard: {guard}. The moonshot, rl better than fixed and than optuna on test (one-sided DM on "
        f"per-day CRPS): p = {_p(found.get('rl_vs_fixed_p'))} and p = {_p(found.get('rl_vs_optuna_p'))}; "
        f"with the session as the unit (one-sided Welch t over seeds): p = "
        f"{_p(found.get('rl_vs_fixed_session_p'))} and p = {_p(found.get('rl_vs_optuna_session_p'))}. "
        f"{chose}.",
        "",
    ]
    return lines + _noise(found)


def _noise(found: dict) -> list[str]:
    """What restart noise alone does to the guard and to the DM test, in words (compare.guard_null and the
    kept-reference split); nothing when the comparison did not compute them."""
    null, kept = found.get("guard_null"), found.get("rl_kept")
    words = []
    if null:
        words.append(
            "How far restart noise alone goes: if every strategy kept the config's own set on every seed "
            f"(restarts' test scores spread as fixed's, sd {null['restart_sd']:.4f} within a seed; "
            f"{int(null['strategy_runs'])} runs per seed against fixed's {int(null['baseline_runs'])}, "
            f"{int(null['seeds'])} seeds), the guard would flag a given strategy in "
            f"{100 * null['per_strategy']:.0f} % of comparisons and at least one of the "
            f"{int(null['strategies'])} in {100 * null['any_strategy']:.0f} % (simulated)."
        )
    if kept and kept.get("sessions") and kept.get("difference") is not None:
        words.append(
            f"rl kept the reference on {kept['sessions']} seeds, and on those its test score differs from "
            f"fixed's by {kept['difference']:+.4f}: the same set, so restart noise; the DM test counts days, "
            "not restarts, and does not see it."
        )
    return [" ".join(words), ""] if words else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "docs" / "compare")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--recompute", action="store_true", help="rewrite the folder's tables first")
    args = parser.parse_args(argv)
    if not (args.folder / "comparison.json").exists():
        stop(f"{args.folder}: no comparison.json; run `make compare` first")
    if args.recompute:
        from gan_trader.errors import ConfigError
        from gan_trader.workflow.compare import recompute_comparison

        try:
            recompute_comparison(args.folder)
        except ConfigError as error:
            stop(str(error))
    rewrite(args.readme, compare_markdown(args.folder.resolve(), args.readme.resolve()), START, END)
    print(f"{args.readme}: comparison from {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
