"""Autoencoder / VAE features, PCA and the anomaly score: trained on training rows, deterministic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from gan_trader.errors import ConfigError, FeatureError
from gan_trader.features.base import BuildContext, create_builder

SMALL = {"hidden": [16], "latent": 3, "epochs": 3, "batch_size": 64}
LEVEL = {**SMALL, "representation": "level"}


@pytest.fixture(scope="module")
def inputs(short_frame: pd.DataFrame) -> pd.DataFrame:
    return short_frame[["close", "volume", "JPM.close", "SP500.close", "WTI.close"]]


def build(
    name: str, params: dict, context: BuildContext, frame: pd.DataFrame, seed: int | None = None
) -> pd.DataFrame:
    if seed is not None:
        context = replace(context, seed=seed)
    return create_builder(name, params, context).fit_transform(frame, frame.index[249])


@pytest.mark.parametrize("variational", [False, True])
def test_autoencoder_is_deterministic_and_seeded(
    variational: bool, inputs: pd.DataFrame, real_context: BuildContext
) -> None:
    params = {**SMALL, "variational": variational}
    first = build("autoencoder", params, real_context, inputs)
    again = build("autoencoder", params, real_context, inputs)
    other_seed = build("autoencoder", params, real_context, inputs, seed=real_context.seed + 1)
    assert list(first.columns) == ["autoencoder.z0", "autoencoder.z1", "autoencoder.z2"]
    assert first.equals(again)
    assert not np.allclose(first.iloc[1:], other_seed.iloc[1:])
    # Stationary inputs: the first row has no log return, every later row is defined.
    assert first.iloc[0].isna().all() and first.iloc[1:].notna().all().all()


def test_autoencoder_leaves_global_torch_state_alone(
    inputs: pd.DataFrame, real_context: BuildContext
) -> None:
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    build("autoencoder", SMALL, real_context, inputs)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_autoencoder_decoder_features_and_missing_inputs(
    inputs: pd.DataFrame, real_context: BuildContext
) -> None:
    gappy = inputs.copy()
    gappy.iloc[300, 0] = np.nan
    output = build(
        "autoencoder", {**LEVEL, "hidden": [12, 6], "features_from": "decoder"}, real_context, gappy
    )
    assert output.shape[1] == 12  # the decoder's last hidden layer mirrors the first encoder layer
    assert output.columns[0] == "autoencoder.h0"
    assert output.iloc[300].isna().all() and output.drop(index=inputs.index[300]).notna().all().all()


def test_autoencoder_trains_on_training_rows_only(inputs: pd.DataFrame, real_context: BuildContext) -> None:
    builder = create_builder("autoencoder", LEVEL, real_context)
    builder.fit(inputs, inputs.index[249])
    training = inputs.iloc[:250].to_numpy(float)
    assert np.allclose(builder.inputs.scaler.mean_, training.mean(axis=0))
    # Different later rows leave the fitted network unchanged.
    changed = inputs.copy()
    changed.iloc[250:] *= 3.0
    other = create_builder("autoencoder", LEVEL, real_context).fit(changed, inputs.index[249])
    for mine, theirs in zip(builder.model.parameters(), other.model.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_autoencoder_validation_and_too_few_rows(inputs: pd.DataFrame, real_context: BuildContext) -> None:
    with pytest.raises(ConfigError, match=r"features\.builders\.autoencoder\.latent"):
        create_builder("autoencoder", {"latent": 0}, real_context)
    with pytest.raises(ConfigError, match=r"features\.builders\.autoencoder\.hidden"):
        create_builder("autoencoder", {"hidden": [8, -1]}, real_context)
    with pytest.raises(ConfigError, match=r"features\.builders\.autoencoder\.features_from"):
        create_builder("autoencoder", {"features_from": "middle"}, real_context)
    builder = create_builder("autoencoder", LEVEL, real_context)
    with pytest.raises(FeatureError, match=r"features\.builders\.autoencoder\.columns: 5 training rows"):
        builder.fit(inputs, inputs.index[4])
    with pytest.raises(FeatureError, match="needs column 'nope'"):
        create_builder("autoencoder", {"columns": ["nope"]}, real_context).fit(inputs, inputs.index[249])


def test_stationary_inputs_are_never_a_price_level(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    """By default the autoencoder and PCA read the panel's log returns and the stationary columns of earlier
    builders: no raw close, volume or asset price, and no column of a builder in `level` representation."""
    context = replace(real_context, level_builders=("fourier",))
    frame = short_frame.assign(**{"technical.ma7_ratio": 0.01 * np.sin(np.arange(len(short_frame)))})
    frame["fourier.trend3"] = short_frame["close"].to_numpy()
    autoencoder = create_builder("autoencoder", SMALL, context).fit(frame, frame.index[249])
    read = autoencoder.inputs.columns
    assert (
        "technical.ma7_ratio" in read and "panel.close.log_return" in read and "panel.JPM.log_return" in read
    )
    assert not {"close", "volume", "high", "JPM.close", "fourier.trend3"} & set(read)
    pca = create_builder("pca", {"prefix": None}, context).fit(frame, frame.index[249])
    assert pca.inputs.columns == ["technical.ma7_ratio"]
    level = create_builder("autoencoder", LEVEL, context).fit(frame, frame.index[249])
    assert {"close", "volume", "fourier.trend3"} <= set(level.inputs.columns)


def test_pca_reaches_the_variance_target_on_training_rows(
    inputs: pd.DataFrame, real_context: BuildContext
) -> None:
    builder = create_builder(
        "pca", {"prefix": None, "variance": 0.9, "representation": "level"}, real_context
    )
    output = builder.fit_transform(inputs, inputs.index[249])
    training = StandardScaler().fit_transform(inputs.iloc[:250].to_numpy(float))
    reference = PCA(svd_solver="full").fit(training)
    cumulative = np.cumsum(reference.explained_variance_ratio_)
    expected = int(np.argmax(cumulative >= 0.9) + 1)
    assert output.shape[1] == expected and cumulative[expected - 2] < 0.9 <= cumulative[expected - 1]
    projected = reference.transform(StandardScaler().fit(inputs.iloc[:250]).transform(inputs))[:, :expected]
    assert np.allclose(np.abs(output.to_numpy()), np.abs(projected), atol=1e-8)  # up to each axis' sign
    capped_params = {"prefix": None, "variance": 1.0, "max_components": 2, "representation": "level"}
    capped = create_builder("pca", capped_params, real_context)
    assert capped.fit_transform(inputs, inputs.index[249]).shape[1] == 2


def test_pca_reads_the_autoencoder_columns(inputs: pd.DataFrame, real_context: BuildContext) -> None:
    encoded = build("autoencoder", SMALL, real_context, inputs)
    output = build("pca", {}, real_context, pd.concat([inputs, encoded], axis=1))
    assert 1 <= output.shape[1] <= 3 and output.columns[0] == "pca.pc0"
    with pytest.raises(
        FeatureError, match=r"features\.builders\.pca\.prefix: no column starts with 'autoencoder\.'"
    ):
        build("pca", {}, real_context, inputs)
    with pytest.raises(ConfigError, match=r"features\.builders\.pca\.variance"):
        create_builder("pca", {"variance": 1.5}, real_context)


def test_anomaly_scores_a_shock_above_ordinary_days(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    shocked = short_frame.copy()
    shock_day = shocked.index[330]
    # Every asset jumps 25 % on one day after train_end (and stays there): one extreme return vector.
    shocked.loc[shock_day:, real_context.asset_columns] *= 1.25
    builder = create_builder("anomaly", {"epochs": 20, "batch_size": 32}, real_context)
    score = builder.fit_transform(shocked, shocked.index[249])["anomaly.score"]
    assert np.isnan(score.iloc[0])  # no log return on the first row
    ordinary = score.drop(index=shock_day).iloc[1:]
    assert score.loc[shock_day] > 10 * ordinary.median()
    assert score.loc[shock_day] > ordinary.max()
    metrics = builder.artifacts[0].metrics
    assert metrics["anomaly/train_score_p99"] > 0


def test_anomaly_on_configured_levels(short_frame: pd.DataFrame, real_context: BuildContext) -> None:
    params = {"columns": ["volume", "WTI.close"], "representation": "level", "epochs": 3}
    score = build("anomaly", params, real_context, short_frame)["anomaly.score"]
    assert score.notna().all() and (score >= 0).all()
    with pytest.raises(FeatureError, match="needs column 'IV.close'"):
        build("anomaly", {"columns": ["IV.close"]}, real_context, short_frame)
