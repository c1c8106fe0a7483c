"""Search space: typed box round-trips, the hyperparameter -> gan.* mapping, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gan_trader.config import GanConfig, ParamSpec, load_config
from gan_trader.errors import ConfigError, TuningError
from gan_trader.tuning.space import SearchSpace, apply_hyperparameters

SPECS = {
    "batch_size": ParamSpec(type="int", low=16, high=128),
    "cnn_lr": ParamSpec(type="log_float", low=1e-5, high=1e-2),
    "dropout": ParamSpec(type="float", low=0.0, high=0.5),
    "gan.loss": ParamSpec(type="categorical", choices=["wgan-gp", "wgan-clip"]),
}


def test_default_space_starts_from_the_original_nine_less_no_ops_plus_the_gans_knobs() -> None:
    space = SearchSpace(load_config(None).tuning.space)
    assert space.names == [
        "batch_size",
        "cnn_lr",
        "strides",
        "lrelu_alpha",
        "padding",
        "kernel_size",
        "dropout",
        "filters",
        "lr_g",
        "n_critic",
        "score_weight",
        "noise_dim",
    ]  # batchnorm_momentum does nothing under the default LayerNorm critic


@pytest.mark.parametrize("seed", range(5))
def test_box_round_trip_stays_in_range(seed: int) -> None:
    space = SearchSpace(SPECS)
    rng = np.random.default_rng(seed)
    for _ in range(50):
        params = space.sample(rng)
        assert isinstance(params["batch_size"], int) and 16 <= params["batch_size"] <= 128
        assert 1e-5 <= params["cnn_lr"] <= 1e-2
        assert params["gan.loss"] in ("wgan-gp", "wgan-clip")
        assert space.from_box(space.to_box(params)) == pytest.approx(params)
        normalised = space.normalise(params)
        assert normalised.shape == (4,) and (normalised >= 0).all() and (normalised <= 1).all()


def test_box_edges_round_to_the_range_ends() -> None:
    space = SearchSpace(SPECS)
    low = {name: bounds[0] for name, bounds in space.bounds.items()}
    high = {name: bounds[1] for name, bounds in space.bounds.items()}
    assert space.from_box(low)["batch_size"] == 16 and space.from_box(high)["batch_size"] == 128
    assert space.from_box(high)["gan.loss"] == "wgan-clip"
    assert space.from_box(low)["cnn_lr"] == pytest.approx(1e-5)
    # Log scale: the middle of the box is the geometric mean.
    assert space.from_box({**low, "cnn_lr": -3.5})["cnn_lr"] == pytest.approx(10**-3.5)


def test_parse_reads_logged_strings_back() -> None:
    space = SearchSpace(SPECS)
    logged = {"batch_size": "64", "cnn_lr": "0.001", "dropout": "0.1", "gan.loss": "wgan-gp"}
    assert space.parse(logged) == {"batch_size": 64, "cnn_lr": 0.001, "dropout": 0.1, "gan.loss": "wgan-gp"}


def test_mapping_onto_the_gan_config() -> None:
    gan = apply_hyperparameters(
        GanConfig(),
        {
            "batch_size": 32,
            "cnn_lr": 3e-4,
            "strides": 1,
            "lrelu_alpha": 0.2,
            "batchnorm_momentum": 0.8,
            "padding": 1,
            "kernel_size": 3,
            "dropout": 0.25,
            "filters": 8,
            "gan.lr_g": 5e-4,
        },
    )
    assert gan.batch_size == 32 and gan.lr_d == 3e-4 and gan.lr_g == 5e-4
    assert gan.critic.strides == 1 and gan.critic.lrelu_alpha == 0.2 and gan.critic.batchnorm_momentum == 0.8
    assert gan.critic.padding == 1 and gan.critic.kernel_size == 3
    assert gan.generator.dropout == 0.25 and gan.critic.dropout == 0.25
    assert gan.critic.filters == [8, 16, 32]


def test_unknown_parameter_names_its_key() -> None:
    with pytest.raises(TuningError, match=r"tuning\.space\.warp_factor: unknown hyperparameter"):
        SearchSpace({"warp_factor": ParamSpec(type="float", low=0, high=1)})
    with pytest.raises(TuningError, match=r"tuning\.space\.gan\.critic\.nonsense"):
        SearchSpace({"gan.critic.nonsense": ParamSpec(type="float", low=0, high=1)})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "tuning.space={dropout: {type: float, low: 0.5, high: 0.1}}",
            r"tuning\.space\.dropout.*inverted range",
        ),
        (
            "tuning.space={dropout: {type: float, low: 0.3, high: 0.3}}",
            r"tuning\.space\.dropout.*empty or inverted",
        ),
        ("tuning.space={cnn_lr: {type: log_float, low: 0, high: 0.1}}", r"tuning\.space\.cnn_lr.*positive"),
        ("tuning.space={gan.loss: {type: categorical, choices: []}}", r"tuning\.space\.gan\.loss.*choices"),
        (
            "tuning.space={dropout: {type: float, low: 0.1}}",
            r"tuning\.space\.dropout.*needs 'low' and 'high'",
        ),
    ],
)
def test_bad_ranges_are_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_empty_space_and_out_of_range_values() -> None:
    with pytest.raises(TuningError, match="tuning.space: the search space is empty"):
        SearchSpace({})
    space = SearchSpace(SPECS)
    with pytest.raises(TuningError, match=r"tuning\.space\.batch_size: 500\.0 lies outside"):
        space.to_box({"batch_size": 500, "cnn_lr": 1e-3, "dropout": 0.1, "gan.loss": "wgan-gp"})
    with pytest.raises(TuningError, match=r"tuning\.space\.gan\.loss: 'gan' is not one of"):
        space.to_box({"batch_size": 50, "cnn_lr": 1e-3, "dropout": 0.1, "gan.loss": "gan"})


def test_invalid_mapped_value_is_a_tuning_error() -> None:
    with pytest.raises(TuningError, match=r"gan\.generator\.dropout is invalid"):
        apply_hyperparameters(GanConfig(), {"dropout": 1.5})


def test_architecture_hyperparameters_are_known() -> None:
    from gan_trader.tuning.space import changes_architecture

    assert [n for n in SearchSpace(load_config(None).tuning.space).names if changes_architecture(n)] == [
        "strides",
        "padding",
        "kernel_size",
        "filters",
        "noise_dim",
    ]
    assert not changes_architecture("gan.lr_g") and not changes_architecture("lr_g")
