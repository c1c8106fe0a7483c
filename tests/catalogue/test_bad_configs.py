"""The catalogue of bad configs (files, `--set` overrides, values the data contradicts): a ConfigError or
DataError whose one line names the file or override and the key, and from the CLI (`run`, `features build`)
exit code 2 with that line and nothing written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from catalogue_checks import Content, NotAFile, assert_cli_refuses, write_input
from cli_runner import CliRunner
from one_line import assert_one_line

from gan_trader.config import load_config
from gan_trader.errors import ConfigError, DataError, GanTraderError
from gan_trader.models.baselines import baseline_class
from gan_trader.workflow.prepare import prepare

CONFIG = "bad.yaml"
# The default experiment, so that an override is the only thing wrong.
DEFAULT_EXPERIMENT = "extends: experiments/default.yaml\n"


@dataclass(frozen=True)
class BadConfig:
    expected: tuple[str, ...]  # what the one line names: the file or override, the key, what is wrong
    files: dict[str, Content] = field(default_factory=lambda: {CONFIG: DEFAULT_EXPERIMENT})
    overrides: tuple[str, ...] = ()
    error: type[GanTraderError] = ConfigError
    # Who refuses it: load_config; prepare (the data, split or feature pipeline the config names); or the
    # experiment run, before any work (`features build` does not read what only the run needs).
    stage: Literal["load", "prepare", "run"] = "load"


def file(text: str) -> dict[str, Content]:
    return {CONFIG: text}


BAD_CONFIGS: dict[str, BadConfig] = {
    # the file itself
    "missing file": BadConfig((CONFIG, "config file not found"), files={CONFIG: NotAFile.MISSING}),
    "directory": BadConfig((CONFIG, "is a directory"), files={CONFIG: NotAFile.DIRECTORY}),
    "empty file": BadConfig((CONFIG, "config file is empty"), files=file("")),
    "invalid YAML": BadConfig((CONFIG, "line 2: invalid YAML"), files=file("gan: [unclosed\n")),
    "top level is a list": BadConfig(
        (CONFIG, "top level must be a mapping"), files=file("- just\n- a list\n")
    ),
    "extends a missing file": BadConfig(
        ("missing.yaml: config file not found",), files=file("extends: missing.yaml\n")
    ),
    "circular extends": BadConfig(
        (CONFIG, "circular"), files={CONFIG: "extends: other.yaml\n", "other.yaml": f"extends: {CONFIG}\n"}
    ),
    # keys and values in the file
    "unknown key in the file": BadConfig(
        (CONFIG, "gan.epochz: unknown key"), files=file("gan:\n  epochz: 3\n")
    ),
    "wrong type in the file": BadConfig((CONFIG, "gan.epochs"), files=file("gan:\n  epochs: many\n")),
    "out of range in the file": BadConfig((CONFIG, "gan.epochs"), files=file("gan:\n  epochs: -1\n")),
    "split fractions in the wrong order": BadConfig(
        (CONFIG, "must come before"), files=file("split:\n  train_end: 0.9\n  val_end: 0.8\n")
    ),
    "split fraction above one": BadConfig(
        (CONFIG, "split.train_end"), files=file("split:\n  train_end: 1.5\n")
    ),
    "inverted range in the file": BadConfig(
        (CONFIG, "tuning.space.dropout"),
        files=file("tuning:\n  space:\n    dropout: {type: float, low: 0.5, high: 0.1}\n"),
    ),
    "unknown strategy in the file": BadConfig(
        (CONFIG, "tuning.strategy"), files=file("tuning:\n  strategy: genetic\n")
    ),
    "bad device in the file": BadConfig((CONFIG, "gan.device"), files=file("gan:\n  device: tpu\n")),
    # overrides
    "override without a value": BadConfig(
        ("--set 'gan.epochs'", "expected key.path=value"), overrides=("gan.epochs",)
    ),
    "override into a scalar": BadConfig(
        ("--set 'gan.epochs=1'", "gan is not a mapping"), files=file("gan: 3\n"), overrides=("gan.epochs=1",)
    ),
    "out of range on top of a file": BadConfig(
        (CONFIG, "gan.seq_len"), files=file("seed: 1\n"), overrides=("gan.seq_len=0",)
    ),
    "unknown key": BadConfig((CONFIG, "gan.epochz: unknown key"), overrides=("gan.epochz=3",)),
    "wrong type": BadConfig((CONFIG, "gan.batch_size"), overrides=("gan.batch_size=large",)),
    "out of range": BadConfig((CONFIG, "gan.epochs"), overrides=("gan.epochs=0",)),
    "conflicting split dates": BadConfig(
        (CONFIG, "must come before"), overrides=("split.train_end=2015-01-02", "split.val_end=2010-01-04")
    ),
    "mixed split kinds": BadConfig(
        (CONFIG, "both be fractions or both be dates"), overrides=("split.train_end=2010-01-04",)
    ),
    "unknown strategy": BadConfig((CONFIG, "tuning.strategy"), overrides=("tuning.strategy=genetic",)),
    "inverted range": BadConfig(
        (CONFIG, "tuning.space.dropout"),
        overrides=("tuning.space.dropout={type: float, low: 0.6, high: 0.1}",),
    ),
    "bad device": BadConfig((CONFIG, "gan.device"), overrides=("gan.device=tpu",)),
    # names that no registry knows
    "unknown builder": BadConfig(
        ("features.builders.magic: unknown builder",),
        overrides=("features.builders.magic={}",),
        stage="prepare",
    ),
    "bad builder parameter": BadConfig(
        ("features.builders.technical.no_such_param: unknown key",),
        overrides=("features.builders.technical.no_such_param=1",),
        stage="prepare",
    ),
    "unknown baseline": BadConfig(
        ("evaluation.baselines: unknown baseline 'prophet'",),
        overrides=("evaluation.baselines=[prophet]",),
        stage="run",
    ),
    # values the data contradicts
    "unknown target": BadConfig(
        ("data.target: target 'NOPE'",), overrides=("data.target=NOPE",), error=DataError, stage="prepare"
    ),
    "missing data folder": BadConfig(
        ("nowhere: data folder not found",),
        overrides=("data.prices_dir=nowhere",),
        error=DataError,
        stage="prepare",
    ),
    "too few rows": BadConfig(
        ("MSFT.csv", "fewer than the"), overrides=("data.start=2017-10-02",), error=DataError, stage="prepare"
    ),
    "split date before the data": BadConfig(
        ("split.train_end", "before the first date"),
        overrides=("split.train_end=1990-01-02", "split.val_end=2015-01-02"),
        stage="prepare",
    ),
}

COMMANDS = {
    "run": ["run", CONFIG, "--quiet"],
    "features build": ["features", "build", CONFIG, "--out", "out.csv"],
}
# Every command reads its config, so a config load_config refuses goes through both; past loading, `features
# build` takes the path `run` takes (prepare), and the library test already calls prepare directly.
CHECKED_WITH = {"load": ("run", "features build"), "prepare": ("run",), "run": ("run",)}


def write_files(folder: Path, bad: BadConfig) -> None:
    for name, content in bad.files.items():
        write_input(folder, name, content)


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_loading_names_the_file_and_the_key(case: str, in_tmp: Path) -> None:
    bad = BAD_CONFIGS[case]
    write_files(in_tmp, bad)
    with pytest.raises(bad.error) as info:
        config = load_config(Path(CONFIG), list(bad.overrides))
        assert bad.stage != "load", "load_config accepted a config it should refuse"
        if bad.stage == "prepare":
            prepare(config, use_cache=False)
        else:
            for name in config.evaluation.baselines:
                baseline_class(name)
    assert_one_line(info.value, *bad.expected)


@pytest.mark.parametrize(
    ("case", "command"),
    [(case, command) for case in sorted(BAD_CONFIGS) for command in CHECKED_WITH[BAD_CONFIGS[case].stage]],
)
def test_cli_exits_2_with_that_line(case: str, command: str, in_tmp: Path, run_cli: CliRunner) -> None:
    bad = BAD_CONFIGS[case]
    write_files(in_tmp, bad)
    sets = [arg for override in bad.overrides for arg in ("--set", override)]
    assert_cli_refuses(run_cli, in_tmp, [*COMMANDS[command], *sets], *bad.expected)
