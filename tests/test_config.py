from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gan_trader.config import apply_overrides, load_config
from gan_trader.errors import ConfigError


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


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("gan:\n  epochz: 3\n", [], "gan.epochz: unknown key"),
        ("gan:\n  epochs: many\n", [], "gan.epochs"),
        ("gan:\n  epochs: -1\n", [], "gan.epochs"),
        ("split:\n  train_end: 0.9\n  val_end: 0.8\n", [], "must come before"),
        ("split:\n  train_end: 1.5\n", [], "split.train_end"),
        ("tuning:\n  space:\n    dropout: {type: float, low: 0.5, high: 0.1}\n", [], "tuning.space.dropout"),
        ("tuning:\n  strategy: genetic\n", [], "tuning.strategy"),
        ("gan:\n  device: tpu\n", [], "gan.device"),
        ("", ["gan.seq_len=0"], "gan.seq_len"),
        ("- a\n- b\n", [], "top level must be a mapping"),
        ("gan: [unclosed\n", [], "invalid YAML"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, overrides: list[str], expected: str) -> None:
    path = write(tmp_path / "bad.yaml", text or "seed: 1\n")
    with pytest.raises(ConfigError, match="bad.yaml") as info:
        load_config(path, overrides)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_circular_extends(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "a.yaml")


def test_override_syntax() -> None:
    assert apply_overrides({"gan": {"epochs": 1}}, ["gan.epochs=4", "gan.mh.candidates=8"]) == {
        "gan": {"epochs": 4, "mh": {"candidates": 8}}
    }
    with pytest.raises(ConfigError, match="expected key.path=value"):
        apply_overrides({}, ["gan.epochs"])
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"gan": 3}, ["gan.epochs=1"])


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path / "empty.yaml", ""))
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)
