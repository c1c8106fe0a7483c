"""README's own-data recipe, run as written: its YAML block saved at a copy of the repository root's layout,
its commands run there on Yahoo-style files of another target and an index."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import CliRunner

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "reliability_helpers", ROOT / "tests" / "reliability" / "reliability_helpers.py"
)
assert _spec is not None and _spec.loader is not None
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
ScriptedGan = _helpers.ScriptedGan  # the stand-in GAN of the reliability tests: trains nothing
MARKER = "<!-- own-data recipe:"

# The recipe's run, made small: the stand-in GAN, few features and baselines, one short fold.
SMALL = [
    "--set",
    "features.builders={technical: {}, assets: {}}",
    "--set",
    "evaluation.baselines=[persistence, gauss_60d]",
    "--set",
    "data.start=2014-01-02",
    "--set",
    "split.walk_forward.folds=0",
    "--set",
    "tuning.strategy=fixed",
    "--set",
    "tuning.episodes=1",
    "--set",
    "tuning.epochs_per_episode=1",
]


def recipe() -> tuple[str, list[list[str]]]:
    """The YAML block after the recipe marker, and the gan-trader commands of the bash block after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    yaml_block = re.search(r"```yaml\n(.*?)```", after, re.S)
    bash_block = re.search(r"```bash\n(.*?)```", after, re.S)
    assert yaml_block and bash_block, "README's own-data recipe lost its yaml or bash block"
    commands = []
    for line in bash_block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0].endswith("gan-trader"), line
            commands.append(words[1:])
    return yaml_block.group(1), commands


def yahoo_file(source: Path, target: Path, rows: slice) -> None:
    """A Yahoo-style daily file (Date, Open, High, Low, Close, Adj Close, Volume) from a bundled one."""
    frame = pd.read_csv(source).iloc[rows]
    frame.columns = [c.strip() for c in frame.columns]
    if "Adj Close" not in frame:
        frame.insert(frame.columns.get_loc("Close") + 1, "Adj Close", frame["Close"])
    frame.to_csv(target, index=False)


@pytest.fixture
def repo_copy(in_tmp: Path) -> Path:
    """The repository root's layout (data/ and experiments/ linked in) with the user's files."""
    prices = in_tmp / "my_prices"
    prices.mkdir()
    yahoo_file(ROOT / "data" / "prices" / "MSFT.csv", prices / "ACME.csv", slice(None))
    yahoo_file(ROOT / "data" / "prices" / "SP500.csv", prices / "GSPC.csv", slice(None))
    return in_tmp


def test_readme_recipe_runs_as_written(
    repo_copy: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gan_trader.models.wgan as wgan

    monkeypatch.setattr(wgan, "GanForecaster", ScriptedGan)
    ScriptedGan.behaviour, ScriptedGan.fits = [], 0
    text, commands = recipe()
    (repo_copy / "my_experiment.yaml").write_text(text)
    assert [c[:2] for c in commands] == [["data", "validate"], ["run", "my_experiment.yaml"]]
    validate = commands[0][:2] + sorted(str(p.relative_to(repo_copy)) for p in repo_copy.glob(commands[0][2]))
    code, out, err = run_cli(validate)
    assert code == 0, err
    assert [line.split()[:2] for line in out.splitlines() if line.strip()] == [
        ["ok", "my_prices/ACME.csv"],
        ["ok", "my_prices/GSPC.csv"],
    ]
    store = f"tracking.uri=sqlite:///{repo_copy / 'runs' / 'mlflow.db'}"
    code, out, err = run_cli([*commands[1], *SMALL, "--set", store])
    assert code == 0, err
    report = repo_copy / "runs" / "reports" / "acme.html"
    assert f"report: {report}" in out and report.is_file()
    assert not (repo_copy / "runs" / "reports" / "default.html").exists()
