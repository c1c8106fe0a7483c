"""Configs load with defaults, inheritance and overrides (bad configs: tests/catalogue/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gan_trader.config import apply_overrides, load_config


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_validate() -> None:
    config = load_config(None)
    assert config.data.target == "MSFT"
    assert config.gan.loss == "wgan-gp"
    assert config.tuning.kappa == 2.5


def test_extends_and_overrides(tmp_path: Path) -> None:
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
