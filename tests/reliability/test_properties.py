"""Property-based tests of the loaders, the panel alignment and the config overrides (hypothesis).

Valid generated files load and round-trip; a corruption at a random row names the file and that row's line;
arbitrary text or bytes raise nothing but DataError; alignment is causal and bounded.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gan_trader.config import ConfigError, apply_overrides, dump_config, load_config
from gan_trader.data.loaders import AssetSeries, load_asset_file, load_long_file, read_table
from gan_trader.data.panel import align_asset
from gan_trader.errors import DataError

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
PRICE = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def price_files(draw: st.DrawFn) -> tuple[pd.DatetimeIndex, dict[str, list[float]]]:
    """Strictly increasing business days (with gaps) and positive prices; close-only or OHLCV."""
    n = draw(st.integers(3, 25))
    gaps = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    start = pd.Timestamp("1995-01-02") + pd.Timedelta(days=draw(st.integers(0, 9000)))
    dates = pd.DatetimeIndex(start + pd.to_timedelta(np.cumsum(gaps), unit="D"))
    fields = ["close"] if draw(st.booleans()) else ["open", "high", "low", "close", "volume"]
    columns = {f: draw(st.lists(PRICE, min_size=n, max_size=n)) for f in fields}
    return dates, columns


def write_csv(path: Path, dates: pd.DatetimeIndex, columns: dict[str, list[float]]) -> list[list[str]]:
    rows = [[d.strftime("%Y-%m-%d"), *(repr(columns[f][i]) for f in columns)] for i, d in enumerate(dates)]
    write_rows(path, ["Date", *[f.capitalize() for f in columns]], rows)
    return rows


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")


@FAST
@given(price_files(), st.sampled_from([".csv", ".parquet"]))
def test_valid_file_round_trips(
    tmp_path_factory: pytest.TempPathFactory, generated: tuple, suffix: str
) -> None:
    dates, columns = generated
    path = tmp_path_factory.mktemp("ok") / f"A{suffix}"
    if suffix == ".csv":
        write_csv(path, dates, columns)
    else:
        pd.DataFrame({"date": dates, **columns}).to_parquet(path, index=False)
    series = load_asset_file(path)
    assert list(series.frame.index) == list(dates)
    assert list(series.frame.columns) == list(columns)
    for field, values in columns.items():
        assert series.frame[field].tolist() == values  # exact: repr round-trips a float


@FAST
@given(price_files(), st.data())
def test_long_file_round_trips(
    tmp_path_factory: pytest.TempPathFactory, generated: tuple, data: st.DataObject
) -> None:
    dates, columns = generated
    rows = [
        [d.strftime("%Y-%m-%d"), asset, field, repr(values[i])]
        for asset in ("A", "B")
        for field, values in columns.items()
        for i, d in enumerate(dates)
    ]
    rows = data.draw(st.permutations(rows))  # a long file's rows may come in any order
    path = tmp_path_factory.mktemp("long") / "long.csv"
    write_rows(path, ["date", "asset", "field", "value"], rows)
    loaded = {s.name: s for s in load_long_file(path)}
    assert sorted(loaded) == ["A", "B"]
    for series in loaded.values():
        assert list(series.frame.index) == list(dates)
        for field, values in columns.items():
            assert series.frame[field].tolist() == values


CORRUPTIONS = ("non-numeric", "duplicate date", "negative price", "swapped rows")


@FAST
@given(price_files(), st.sampled_from(CORRUPTIONS), st.data())
def test_corruption_names_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, generated: tuple, family: str, data: st.DataObject
) -> None:
    dates, columns = generated
    path = tmp_path_factory.mktemp("bad") / "bad.csv"
    rows = [[d.strftime("%Y-%m-%d"), *(repr(columns[f][i]) for f in columns)] for i, d in enumerate(dates)]
    n = len(rows)
    close = list(columns).index("close") + 1
    if family == "non-numeric":
        row = data.draw(st.integers(0, n - 1))
        rows[row][close] = data.draw(st.sampled_from(["abc", "1.2.3", "12x", "--5", "one"]))
        expected = (f"line {row + 2}", "not a number")
    elif family == "duplicate date":
        row = data.draw(st.integers(1, n - 1))
        rows[row][0] = rows[row - 1][0]
        expected = (f"line {row + 2}", "duplicate date")
    elif family == "negative price":
        row = data.draw(st.integers(0, n - 1))
        rows[row][close] = repr(-abs(float(rows[row][close])))
        expected = (f"line {row + 2}", "non-positive price")
    else:
        row = data.draw(st.integers(0, n - 2))
        rows[row], rows[row + 1] = rows[row + 1], rows[row]
        expected = (f"line {row + 3}", "dates out of order")
    write_rows(path, ["Date", *[f.capitalize() for f in columns]], rows)
    with pytest.raises(DataError) as info:
        load_asset_file(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for part in expected:
        assert part in message, message


TOKENS = st.sampled_from(
    [
        *"0123456789-.,:;\"' \n\t/+TZe",
        "Date,Close\n",
        "date,asset,field,value\n",
        "open,high,low,close\n",
        "2020-01-0",
        "2020-01-02 23:00-05:00",
        "2020-01-02T10:00+09:00",
        "1e308",
        "nan",
        "inf",
        "adj_close",
        "\x00",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(st.lists(TOKENS, max_size=40).map(lambda t: "".join(t).encode()), st.binary(max_size=64)),
    st.sampled_from([".csv", ".txt", ".parquet"]),
)
def test_arbitrary_input_raises_only_data_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("junk") / f"junk{suffix}"
    path.write_bytes(content)
    for loader in (read_table, load_asset_file, load_long_file):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                loader(path)
            except DataError as exc:
                assert str(path) in str(exc)


# ---------------------------------------------------------------- alignment


@st.composite
def alignment_cases(draw: st.DrawFn) -> tuple[AssetSeries, pd.DatetimeIndex, int]:
    n = draw(st.integers(1, 30))
    step = draw(st.sampled_from([1, 1, 2, 30]))  # daily-ish or monthly
    offsets = np.cumsum(draw(st.lists(st.integers(1, 3 * step), min_size=n, max_size=n)))
    start = pd.Timestamp("2010-01-01")
    dates = pd.DatetimeIndex(start + pd.to_timedelta(offsets, unit="D"), name="date")
    values = np.arange(1.0, n + 1.0)  # value i identifies its date
    lag = draw(st.integers(0, 45))
    series = AssetSeries("X", pd.DataFrame({"close": values}, index=dates), "x.csv", release_lag_days=lag)
    calendar_offsets = np.unique(
        draw(st.lists(st.integers(-5, int(offsets[-1]) + 80), min_size=1, max_size=60))
    )
    calendar = pd.DatetimeIndex(start + pd.to_timedelta(calendar_offsets, unit="D"), name="date")
    return series, calendar, draw(st.integers(0, 10))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(alignment_cases())
def test_alignment_is_causal_and_bounded(case: tuple[AssetSeries, pd.DatetimeIndex, int]) -> None:
    series, calendar, max_ffill = case
    aligned = align_asset(series, calendar, max_ffill)
    dates = series.frame.index
    lag = pd.Timedelta(days=series.release_lag_days)
    gaps = np.diff(dates.asi8) if len(dates) > 2 else None
    low_frequency = gaps is not None and float(np.median(gaps)) / 86_400e6 > 6.0
    for t, value in aligned.items():
        known = dates[dates + lag <= t]
        if math.isnan(value):
            if len(known) and not low_frequency:
                # missing only when the last known value is older than the forward-fill limit
                assert t - (known[-1] + lag) > pd.Timedelta(days=max_ffill)
            continue
        stamped = dates[int(value) - 1]
        assert stamped + lag <= t, "back-filled: a value not yet known at t"
        assert stamped == known[-1], "not the latest known value"
        if not low_frequency:
            assert t - (stamped + lag) <= pd.Timedelta(days=max_ffill), "forward-filled beyond the limit"


# ---------------------------------------------------------------- config


@FAST
@given(
    st.integers(1, 500),
    st.floats(1e-6, 1.0, allow_nan=False),
    st.integers(2, 60),
    st.sampled_from(["wgan-gp", "wgan-clip", "gan", "l1"]),
)
def test_overrides_round_trip(epochs: int, lr: float, seq_len: int, loss: str) -> None:
    config = load_config(
        None,
        [f"gan.epochs={epochs}", f"gan.lr_g={lr!r}", f"gan.seq_len={seq_len}", f"gan.loss={loss}"],
    )
    assert (config.gan.epochs, config.gan.lr_g, config.gan.seq_len, config.gan.loss) == (
        epochs,
        lr,
        seq_len,
        loss,
    )
    import yaml

    again = load_config(None, [f"{k}={v}" for k, v in _flat(yaml.safe_load(dump_config(config))).items()])
    assert again.to_dict() == config.to_dict()


def _flat(tree: dict, prefix: str = "") -> dict[str, str]:
    """Leaves as `key.path` -> a YAML flow value (mappings become nested keys; empty mappings kept whole)."""
    import yaml

    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = (
                yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")
            )
    return out


KEYS = st.sampled_from(
    [
        "gan.epochs",
        "gan.lr_g",
        "gan",
        "seed",
        "split.train_end",
        "data.start",
        "tuning.space.x",
        "features.builders.technical.rsi",
        "gan.generator.hidden",
        "nope",
        "a..b",
        ".",
        "",
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(KEYS, st.text(max_size=20), st.booleans())
def test_arbitrary_override_raises_only_config_error(key: str, value: str, with_equals: bool) -> None:
    item = f"{key}={value}" if with_equals else key + value
    try:
        load_config(None, [item])
    except ConfigError as exc:
        assert "\n" not in str(exc).strip() or str(exc).count("\n") < 3


@FAST
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(), max_size=3), st.integers())
def test_apply_overrides_does_not_mutate_and_sets_leaf(raw: dict, value: int) -> None:
    before = dict(raw)
    result = apply_overrides({"x": raw}, [f"x.a={value}"])
    assert raw == before
    assert result["x"]["a"] == value


def test_mixed_utc_offsets_are_one_clock(tmp_path: Path) -> None:
    """Found by the fuzzer: mixed offsets made pandas raise ValueError; now they compare on UTC."""
    path = tmp_path / "tz.csv"
    path.write_text("Date,Close\n2020-01-02 10:00-05:00,1\n2020-01-03 10:00+01:00,2\n2020-01-06,3\n")
    series = load_asset_file(path)
    assert list(series.frame.index.strftime("%Y-%m-%d")) == ["2020-01-02", "2020-01-03", "2020-01-06"]
