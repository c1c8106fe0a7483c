"""The catalogue of bad study files: `gan-trader study` refuses each with one line naming the file and the
key (an unknown target, group, model or key...), exit code 2, before any cell starts (nothing is written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_checks import assert_cli_refuses
from cli_runner import CliRunner

STUDY = "bad_study.yaml"
GOOD = {
    "experiment": "experiments/default.yaml",
    "targets": "[MSFT, JPM]",
    "seeds": "[7]",
    "feature_sets": "[history, volatility]",
    "models": "[gan, lstm_skewt]",
    "per_target": "[har_t, garch_t, gauss_60d]",
}


def study_text(**changes: str | None) -> str:
    """A valid study file with some top-level keys replaced (None: left out)."""
    keys = {**GOOD, **changes}
    return "".join(f"{key}: {value}\n" for key, value in keys.items() if value is not None)


# name -> (study file text, extra CLI arguments, what the one line names)
BAD_STUDIES: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
    "unknown target": (study_text(targets="[MSFT, ACME]"), [], ("targets.1", "unknown target 'ACME'")),
    "unknown group": (
        study_text(feature_sets="[history, volatilty]"),
        [],
        ("feature_sets.1", "unknown group 'volatilty'"),
    ),
    "unknown group in a set of groups": (
        study_text(feature_sets="[history, {name: mine, groups: [volatility, tecnical]}]"),
        [],
        ("feature_sets.1", "unknown group 'tecnical'"),
    ),
    "unknown model": (study_text(models="[gan, lstm_skewd]"), [], ("models.1", "unknown model 'lstm_skewd'")),
    "unknown per-target model": (
        study_text(per_target="[har_t, garch]"),
        [],
        ("per_target.1", "unknown model 'garch'"),
    ),
    "unknown key": (study_text(seedz="[1]"), [], ("seedz", "unknown key")),
    "unknown key in tests": (study_text(tests="{alfa: 0.05}"), [], ("tests.alfa", "unknown key")),
    "unknown key in a model": (
        study_text(models="[{name: g, model: gan, sett: []}]"),
        [],
        ("models.0.sett", "unknown key"),
    ),
    "a model's override of the data": (
        study_text(models="[{name: g, model: gan, set: [data.target=SP500]}]"),
        [],
        ("models.0.set", "data.target", "gan.* and features.scaler only"),
    ),
    "a model's unknown config key": (
        study_text(models="[{name: g, model: gan, set: [gan.epochz=3]}]"),
        [],
        ("model g", "gan.epochz", "unknown key"),
    ),
    "sentiment without news": (
        study_text(feature_sets="[history, sentiment]"),
        [],
        ("feature_sets.1", "group 'sentiment' needs news"),
    ),
    "a model listed twice": (study_text(models="[gan, gan]"), [], ("models", "'gan' is listed twice")),
    "a seed listed twice": (study_text(seeds="[7, 7]"), [], ("seeds", "seed 7 is listed twice")),
    "no targets": (study_text(targets="[]"), [], ("targets", "at least 1")),
    "a test against a model that is not per target": (
        study_text(tests="{against: [lstm_skewt]}"),
        [],
        ("tests.against.0", "'lstm_skewt' is not a per_target model"),
    ),
    "a baseline set that is not a feature set": (
        study_text(tests="{baseline_set: nothing}"),
        [],
        ("tests.baseline_set", "'nothing' is not a feature set"),
    ),
    "quick without a quick section": (study_text(), ["--quick"], ("quick", "needs a `quick` section")),
    "quick keeps an unknown set": (
        study_text(quick="{feature_sets: [history, all]}"),
        ["--quick"],
        ("quick.feature_sets", "'all' is not in the study"),
    ),
    "a missing experiment": (
        study_text(experiment="experiments/nothing.yaml"),
        [],
        ("experiment: experiments/nothing.yaml", "config file not found"),
    ),
    "a bad override of the experiment": (study_text(set="[gan.epochs=0]"), [], ("gan.epochs",)),
    "not YAML": ("targets: [unclosed\n", [], ("invalid YAML",)),
}


@pytest.mark.parametrize("name", sorted(BAD_STUDIES))
def test_bad_study_is_refused_before_any_cell(name: str, in_tmp: Path, run_cli: CliRunner) -> None:
    text, extra, parts = BAD_STUDIES[name]
    (in_tmp / STUDY).write_text(text, encoding="utf-8")
    assert_cli_refuses(run_cli, in_tmp, ["study", STUDY, *extra], STUDY, *parts)


def test_missing_study_file(in_tmp: Path, run_cli: CliRunner) -> None:
    assert_cli_refuses(run_cli, in_tmp, ["study", "nowhere.yaml"], "nowhere.yaml", "study file not found")
