"""Bad feature configs and data: each a GanTraderError whose one-line message names the config key."""

from __future__ import annotations

import pandas as pd
import pytest

from gan_trader.config import load_config
from gan_trader.errors import GanTraderError
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.features.pipeline import FeaturePipeline

CONTEXT = BuildContext(target="MSFT")

BAD_PARAMS = [
    ("technical", {"ma_short": -3}, "features.builders.technical.ma_short"),
    ("technical", {"ma_short": 30}, "features.builders.technical.ma_long"),
    ("technical", {"momentum_days": 0}, "features.builders.technical.momentum_days"),
    ("technical", {"window": 5}, "features.builders.technical.window: unknown key"),
    ("assets", {"assets": "JPM"}, "features.builders.assets.assets"),
    ("fourier", {"window": -5}, "features.builders.fourier.window"),
    ("fourier", {"window": 64, "components": [3, 100]}, "features.builders.fourier.components"),
    ("arima", {"order": [5, 3, 0]}, "features.builders.arima.order"),
    ("arima", {"order": [5, 1]}, "features.builders.arima.order"),
    ("arima", {"refit_every": -1}, "features.builders.arima.refit_every"),
    ("autoencoder", {"epochs": 0}, "features.builders.autoencoder.epochs"),
    ("autoencoder", {"hidden": [0]}, "features.builders.autoencoder.hidden"),
    ("pca", {"variance": 0}, "features.builders.pca.variance"),
    ("anomaly", {"latent": -2}, "features.builders.anomaly.latent"),
    ("importance", {"learning_rate": -0.1}, "features.builders.importance.learning_rate"),
    ("importance", {"threshold": 2}, "features.builders.importance.threshold"),
    ("checks", {"lags": [-1]}, "features.builders.checks.lags"),
    ("technical", {"representation": "levels"}, "features.builders.technical.representation"),
    ("assets", {"closes": True}, "features.builders.assets.closes: unknown key"),
    ("volatility", {"return_lags": [-1]}, "features.builders.volatility.return_lags"),
    ("volatility", {"ewma_halflives": [0]}, "features.builders.volatility.ewma_halflives"),
]


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_unknown_builder_name() -> None:
    with pytest.raises(GanTraderError) as caught:
        create_builder("fourrier", {}, CONTEXT)
    assert one_line(caught.value).startswith("features.builders.fourrier: unknown builder (known: technical")
    with pytest.raises(GanTraderError, match=r"features\.builders\.nope: unknown builder"):
        FeaturePipeline({"technical": {}, "nope": {}}, CONTEXT)


@pytest.mark.parametrize(
    ("name", "params", "key"), BAD_PARAMS, ids=[f"{n}-{k.split('.')[-1]}" for n, _, k in BAD_PARAMS]
)
def test_bad_params_name_the_key(name: str, params: dict, key: str) -> None:
    with pytest.raises(GanTraderError) as caught:
        create_builder(name, params, CONTEXT)
    assert one_line(caught.value).startswith(key)


def test_bad_params_from_a_config_override_are_rejected_before_any_work(in_tmp) -> None:  # type: ignore[no-untyped-def]
    from gan_trader.workflow.prepare import feature_pipeline, load_panel

    config = load_config(None, ["features.builders={fourier: {window: -1}}", "features.cache_dir=null"])
    with pytest.raises(GanTraderError, match=r"^features\.builders\.fourier\.window: "):
        feature_pipeline(config, load_panel(config))


@pytest.mark.parametrize(
    ("name", "params", "key"),
    [
        ("technical", {"ma_long": 60, "ema_slow": 40}, "features.builders.technical.ma_long: needs 60 rows"),
        ("fourier", {"window": 64, "components": [3, 6]}, "features.builders.fourier.window: needs 64 rows"),
        ("arima", {}, "features.builders.arima.order: ARIMA(5, 1, 0) needs at least"),
        ("autoencoder", {}, "features.builders.autoencoder.columns: "),
        ("anomaly", {}, "features.builders.anomaly.columns: "),
        ("importance", {}, "features.builders.importance: "),
        ("checks", {}, "features.builders.checks: "),
    ],
)
def test_too_few_rows_name_the_key(
    name: str, params: dict, key: str, real_context: BuildContext, short_frame: pd.DataFrame
) -> None:
    frame = short_frame[["close", "high", "low", "volume", "JPM.close", "WTI.close"]].copy()
    frame["extra.x"] = range(len(frame))
    context = BuildContext(target="MSFT", asset_columns=("JPM.close", "WTI.close"))
    with pytest.raises(GanTraderError) as caught:
        create_builder(name, params, context).fit(frame, frame.index[14])
    assert one_line(caught.value).startswith(key)


def test_pipeline_with_too_few_rows_for_its_windows(
    short_frame: pd.DataFrame, real_context: BuildContext
) -> None:
    pipeline = FeaturePipeline({"technical": {}, "fourier": {"window": 300}}, real_context)
    with pytest.raises(GanTraderError, match=r"^features\.builders\.fourier\.window: needs 300 rows"):
        pipeline.fit_transform(short_frame, short_frame.index[250], use_cache=False)
