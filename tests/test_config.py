"""Configs load with defaults, inheritance and overrides (bad configs: tests/catalogue/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from gan_trader.config import apply_overrides, load_config
from gan_trader.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_validate() -> None:
    config = load_config(None)
    assert config.data.target == "MSFT"
    assert config.gan.loss == "wgan-gp"
    assert config.tuning.kappa == 2.5


def test_extends_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "base.yaml", "seed: 3\ngan:\n  epochs: 5\n  generator:\n    hidden: 32\n")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\ngan:\n  generator:\n    layers: 2\n")
    config = load_config(child, ["gan.epochs=9", "split.train_end=2010-01-04", "split.val_end=2014-01-02"])
    assert config.name == "child"
    assert config.seed == 3
    assert config.gan.epochs == 9
    assert config.gan.generator.hidden == 32 and config.gan.generator.layers == 2
    assert config.split.train_end == dt.date(2010, 1, 4)


def test_override_syntax() -> None:
    assert apply_overrides({"gan": {"epochs": 1}}, ["gan.epochs=4", "gan.mh.candidates=8"]) == {
        "gan": {"epochs": 4, "mh": {"candidates": 8}}
    }


def test_val_mase_is_a_deprecated_alias_of_relmae(tmp_path: Path, caplog) -> None:
    config_file = write(
        tmp_path / "old.yaml", "tuning:\n  objective: val/mase\ngan:\n  early_stopping_metric: val/mase\n"
    )
    with caplog.at_level("WARNING", logger="gan_trader.config"):
        config = load_config(config_file)
    assert config.tuning.objective == "val/relmae"
    assert config.gan.early_stopping_metric == "val/relmae"
    assert "'val/mase' is deprecated" in caplog.text and "val/relmae" in caplog.text


# ---------------------------------------------------------------- paths: one rule (the working directory)


def test_extends_and_data_paths_are_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config in a subfolder names its parent and its data the same way: as seen from where it runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "my_prices").mkdir()
    write(tmp_path / "configs" / "base.yaml", "seed: 3\n")
    child = write(
        tmp_path / "configs" / "child.yaml",
        "extends: configs/base.yaml\ndata:\n  prices_dir: my_prices\n",
    )
    config = load_config(child)
    assert config.seed == 3 and config.data.prices_dir == Path("my_prices")


def test_paths_written_from_the_configs_folder_are_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs" / "prices").mkdir(parents=True)
    write(tmp_path / "configs" / "base.yaml", "seed: 3\n")
    child = write(tmp_path / "configs" / "child.yaml", "extends: base.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    message = str(info.value)
    assert "extends: base.yaml" in message and "working directory" in message
    assert "write extends: configs/base.yaml" in message
    child.write_text("data:\n  prices_dir: prices\n")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    assert "data.prices_dir" in str(info.value) and "write configs/prices" in str(info.value)


def _is_study(path: Path) -> bool:
    """A study file (gan-trader study) rather than an experiment config: it has a grid of feature sets."""
    return "feature_sets" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {})


SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("name", [p.name for p in SHIPPED if not _is_study(p)])
def test_every_shipped_config_loads_from_the_repository_root(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    config = load_config(Path("experiments") / name)
    assert config.name == Path(name).stem
    for path in [config.data.prices_dir, *(f.path for f in config.data.files)]:
        assert path is None or path.exists(), path


@pytest.mark.parametrize("name", [p.name for p in SHIPPED if _is_study(p)])
def test_every_shipped_study_loads_from_the_repository_root(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_trader.workflow.study.spec import load_study

    monkeypatch.chdir(ROOT)
    study = load_study(Path("experiments") / name)
    assert study.cells(), name


# ---------------------------------------------------------------- the name is the config's own


def test_a_config_without_its_own_name_is_named_after_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inheriting `name: default` would log the run as `default` and write over its report and policy."""
    from gan_trader.tuning.agents import policy_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    config = load_config(write(tmp_path / "acme.yaml", "extends: experiments/default.yaml\n"))
    assert config.name == "acme" and config.experiment_name == "acme"
    assert str(config.evaluation.report).format(name=config.name) == "runs/reports/acme.html"
    assert policy_path(config).name.startswith("acme-")
    assert load_config(tmp_path / "acme.yaml", ["name=other"]).name == "other"


def test_an_inherited_literal_report_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "base.yaml", "name: base\nevaluation:\n  report: runs/reports/base.html\n")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_config(child)
    assert "evaluation.report: inherited from base.yaml" in str(info.value)
    assert load_config(child, ["evaluation.report=runs/reports/{name}.html"]).name == "child"
    write(tmp_path / "base.yaml", "name: base\nevaluation:\n  report: runs/{name}.html\n")
    assert load_config(child).name == "child"


# ---------------------------------------------------------------- epochs: an override is never silently lost


def test_a_shadowed_gan_epochs_override_is_told_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    config_file = write(tmp_path / "x.yaml", "tuning:\n  epochs_per_episode: 10\n")
    with caplog.at_level("WARNING", logger="gan_trader.config"):
        load_config(config_file, ["gan.epochs=5"])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "tuning.epochs_per_episode = 10" in lines[0], lines
    assert "--set tuning.epochs_per_episode=N" in lines[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="gan_trader.config"):
        load_config(config_file, ["gan.epochs=5", "tuning.epochs_per_episode=5"])
        load_config(write(tmp_path / "y.yaml", "seed: 1\n"), ["gan.epochs=5"])
    assert not caplog.records
