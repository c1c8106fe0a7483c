"""Read price files (per-asset CSV/parquet, Yahoo-style accepted as is, or one long file) and validate them.

Every problem raises `DataError` naming the file, the column as the file writes it ('Adj Close', not the
normalised 'adj_close') and the line (line 1 is the header).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gan_trader.errors import DataError

PRICE_FIELDS = ("open", "high", "low", "close", "volume")
DATE_NAMES = ("date", "datetime", "timestamp", "time", "day")
MISSING_MARKERS = ("", "null", "NULL", "nan", "NaN", "NA", "N/A", "n/a", "#N/A", "-", ".")
LONG_COLUMNS = ("date", "asset", "field", "value")
SUFFIXES = (".csv", ".txt", ".parquet", ".pq")


@dataclass(frozen=True)
class AssetSeries:
    """One asset's validated daily (or lower-frequency) prices, indexed by date, lowercase columns."""

    name: str
    frame: pd.DataFrame
    source: str
    release_lag_days: int = 0

    @property
    def close_only(self) -> bool:
        return list(self.frame.columns) == ["close"]


def normalise_column(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _line(position: int) -> int:
    """File line of the data row at 0-based `position` (the header is line 1)."""
    return position + 2


def _sniff_delimiter(path: Path, first_line: str) -> None:
    if "," in first_line:
        return
    for delimiter, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if delimiter in first_line:
            raise DataError(
                f"{path}: line 1: columns are separated by {label}s; expected a comma-separated file"
            )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or parquet file as strings/values with normalised column names; no validation of values."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV or parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__})") from None
        if table.index.name is not None or not isinstance(table.index, pd.RangeIndex):
            table = table.reset_index()
    else:
        raw = path.read_bytes()[:4096]
        if b"\x00" in raw:
            raise DataError(f"{path}: binary content, expected a CSV text file")
        try:
            head = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text, expected a CSV file") from None
        first_line = head.splitlines()[0] if head.strip() else ""
        if not first_line.strip():
            raise DataError(f"{path}: line 1: empty header")
        _sniff_delimiter(path, first_line)
        written_header = next(csv.reader([first_line]))
        header = [normalise_column(c) for c in written_header]
        repeated = [i for i, c in enumerate(header) if c and header.index(c) < i]
        if repeated:
            raise DataError(f"{path}: line 1: {_duplicated(written_header, header, repeated[0])}")
        try:
            table = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                encoding="utf-8-sig",
                comment=None,
            )
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: malformed CSV ({str(exc).strip().splitlines()[-1]})") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: unreadable CSV ({exc})") from None
    original = [str(c).strip() for c in table.columns]
    columns = [normalise_column(c) for c in table.columns]
    blank = [i for i, c in enumerate(columns) if c in ("", "nan") or c.startswith("unnamed:")]
    if blank and blank != [0]:
        raise DataError(f"{path}: line 1: column {blank[-1] + 1} has no name")
    if blank == [0]:
        columns[0] = "date"
        original[0] = "(first column, no name)"
    repeated = [i for i, c in enumerate(columns) if columns.index(c) < i]
    if repeated:
        raise DataError(f"{path}: line 1: {_duplicated(original, columns, repeated[0])}")
    table.columns = columns
    # Messages name columns as the file writes them ('Adj Close'), not as they are normalised here.
    table.attrs[WRITTEN] = dict(zip(columns, original, strict=True))
    if table.empty:
        raise DataError(f"{path}: no data rows (only a header)")
    return table


WRITTEN = "written_columns"  # table.attrs key: normalised column name -> the name as the file writes it


def written(table: pd.DataFrame, column: str) -> str:
    """The name of `column` as the file writes it (the normalised name for a table built here)."""
    return str(table.attrs.get(WRITTEN, {}).get(column, column))


def _written_columns(table: pd.DataFrame) -> str:
    return ", ".join(written(table, str(c)) for c in table.columns)


def _duplicated(written_names: list[str], normalised: list[str], position: int) -> str:
    first = normalised.index(normalised[position])
    same = written_names[first]
    again = written_names[position].strip()
    return f"duplicated column '{again}'" + (
        f" (the same as '{same.strip()}')" if same.strip() != again else ""
    )


def parse_timestamps(table: pd.DataFrame, path: Path | str) -> pd.DatetimeIndex:
    """The rows' timestamps as written (UTC offsets applied, then dropped)."""
    date_column = next((c for c in DATE_NAMES if c in table.columns), None)
    if date_column is None:
        raise DataError(f"{path}: missing column 'date' (columns: {_written_columns(table)})")
    values = table[date_column]
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
    else:
        text = values.astype(str).str.strip()
        # utc=True: stamps with different UTC offsets (or naive beside aware) are compared on one clock
        # instead of pandas refusing the mix with a ValueError; naive stamps are kept as they are.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{path}: column '{written(table, date_column)}' line {_line(row)}: unparseable date "
                f"{text.iloc[row]!r}"
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return pd.DatetimeIndex(parsed)


def reject_intraday(table: pd.DataFrame, stamps: pd.DatetimeIndex, key: pd.Index, path: Path | str) -> None:
    """DataError when a row repeats the date of an earlier one (of the same `key`: a long file's asset and
    field) at another time of day: an intraday file, which "duplicate date" would describe badly."""
    dates = stamps.normalize()
    if (stamps == dates).all():
        return
    rows = pd.DataFrame({"date": dates, "key": key, "stamp": stamps})
    later_time = rows.duplicated(["date", "key"]) & ~rows.duplicated(["date", "key", "stamp"])
    if not later_time.any():
        return
    row = int(np.flatnonzero(later_time.to_numpy())[0])
    column = next(c for c in DATE_NAMES if c in table.columns)
    earlier = int(np.flatnonzero((rows["date"] == rows["date"].iloc[row]).to_numpy())[0])
    stamp_text = table[column].astype(str).str.strip()
    raise DataError(
        f"{path}: column '{written(table, column)}' line {_line(row)}: intraday timestamps "
        f"({stamp_text.iloc[row]!r} on the same day as {stamp_text.iloc[earlier]!r}); daily bars expected: "
        "resample to one row per day first"
    )


def _numeric(table: pd.DataFrame, column: str, path: Path | str) -> pd.Series:
    values = table[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype(str).str.strip().str.replace(",", "", regex=False)
    missing = text.isin(MISSING_MARKERS)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = np.flatnonzero((numbers.isna() & ~missing).to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}: column '{written(table, column)}' line {_line(row)}: not a number: {values.iloc[row]!r}"
        )
    return numbers.astype(float)


def _check_order(index: pd.DatetimeIndex, path: Path | str, column: str = "date") -> np.ndarray:
    """Return positions in chronological order; strictly descending files are accepted and reversed.

    :param column: the date column as the file writes it.
    """
    positions = np.arange(len(index))
    if len(index) > 1 and index.is_monotonic_decreasing and index.is_unique:
        positions = positions[::-1]
    ordered = index[positions]
    duplicated = np.flatnonzero(ordered.duplicated())
    if len(duplicated):
        row = int(positions[duplicated[0]])
        raise DataError(
            f"{path}: column '{column}' line {_line(row)}: duplicate date {ordered[duplicated[0]].date()}"
        )
    steps = np.flatnonzero(np.diff(ordered.asi8) < 0)
    if len(steps):
        row = int(positions[steps[0] + 1])
        raise DataError(
            f"{path}: column '{column}' line {_line(row)}: dates out of order "
            f"({ordered[steps[0] + 1].date()} after {ordered[steps[0]].date()})"
        )
    return positions


def _value_columns(table: pd.DataFrame, path: Path | str) -> dict[str, str]:
    """Map our fields to the file's columns. A file with one numeric column is a close-only series."""
    columns = [c for c in table.columns if c not in DATE_NAMES]
    mapping: dict[str, str] = {}
    if "adj_close" in columns:
        mapping["adj_close"] = "adj_close"
    for field in PRICE_FIELDS:
        if field in columns:
            mapping[field] = field
    if "close" not in mapping and "adj_close" not in mapping:
        others = [
            c for c in columns if c not in mapping and c not in ("openint", "dividends", "stock_splits")
        ]
        if len(others) == 1 and not mapping:
            mapping["close"] = others[0]
        else:
            raise DataError(f"{path}: missing column 'close' (columns: {_written_columns(table)})")
    present = [f for f in ("open", "high", "low") if f in mapping]
    if present and len(present) < 3:
        missing = next(f for f in ("open", "high", "low") if f not in mapping)
        raise DataError(f"{path}: missing column '{missing}' (an OHLC file needs open, high, low and close)")
    return mapping


def frame_from_table(table: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """Validate a read table and return a float frame indexed by date with our field names."""
    stamps = parse_timestamps(table, path)
    reject_intraday(table, stamps, pd.Index(np.zeros(len(stamps))), path)
    index = pd.DatetimeIndex(stamps.normalize(), name="date")
    date_column = next(c for c in DATE_NAMES if c in table.columns)
    positions = _check_order(index, path, written(table, date_column))
    mapping = _value_columns(table, path)
    values = {field: _numeric(table, column, path) for field, column in mapping.items()}
    frame = pd.DataFrame({k: v.to_numpy() for k, v in values.items()}, index=index)
    frame = frame.iloc[positions]
    for field in frame.columns:
        column = frame[field].to_numpy()
        if np.isinf(column).any():
            pos = int(positions[np.flatnonzero(np.isinf(column))[0]])
            raise DataError(
                f"{path}: column '{written(table, mapping[field])}' line {_line(pos)}: infinite value"
            )
        if field == "volume":
            bad = np.flatnonzero(column < 0)
            what = "negative volume"
        else:
            bad = np.flatnonzero(column <= 0)
            what = "non-positive price"
        if len(bad):
            pos = int(positions[bad[0]])
            name = written(table, mapping[field])
            raise DataError(f"{path}: column '{name}' line {_line(pos)}: {what} {column[bad[0]]:g}")
        if np.isnan(column).all():
            raise DataError(f"{path}: column '{written(table, mapping[field])}' has no values (all missing)")
    if "adj_close" in frame.columns:
        adjusted = frame.pop("adj_close")
        if "close" in frame.columns:
            # Rescale OHLC by the adjustment factor so splits and dividends do not appear as price jumps.
            factor = (adjusted / frame["close"]).fillna(1.0)
            for field in ("open", "high", "low", "close"):
                if field in frame.columns:
                    frame[field] = frame[field] * factor
        frame["close"] = adjusted
    ordered = [f for f in PRICE_FIELDS if f in frame.columns]
    return frame[ordered]


def load_asset_file(path: str | Path, name: str | None = None, release_lag_days: int = 0) -> AssetSeries:
    path = Path(path)
    table = read_table(path)
    frame = frame_from_table(table, path)
    return AssetSeries(
        name=name or path.stem, frame=frame, source=str(path), release_lag_days=release_lag_days
    )


def load_long_file(path: str | Path) -> list[AssetSeries]:
    """One file with columns date, asset, field, value (field: open/high/low/close/adj_close/volume)."""
    path = Path(path)
    table = read_table(path)
    for column in LONG_COLUMNS:
        if column not in table.columns:
            raise DataError(
                f"{path}: missing column '{column}' (a long file needs {', '.join(LONG_COLUMNS)})"
            )
    table = table.assign(
        field=table["field"].map(normalise_column), asset=table["asset"].astype(str).str.strip()
    )
    known = {*PRICE_FIELDS, "adj_close"}
    unknown = np.flatnonzero(~table["field"].isin(known).to_numpy())
    if len(unknown):
        row = int(unknown[0])
        raise DataError(
            f"{path}: column '{written(table, 'field')}' line {_line(row)}: unknown field "
            f"{table['field'].iloc[row]!r}"
        )
    stamps = parse_timestamps(table, path)
    reject_intraday(table, stamps, pd.Index(table["asset"] + "\x00" + table["field"]), path)
    table = table.assign(date=stamps.normalize(), value=_numeric(table, "value", path))
    _check_long_values(table, path)
    dup = np.flatnonzero(table.duplicated(["date", "asset", "field"]).to_numpy())
    if len(dup):
        row = int(dup[0])
        raise DataError(
            f"{path}: line {_line(row)}: duplicate entry for asset {table['asset'].iloc[row]!r}, "
            f"field {table['field'].iloc[row]!r}, date {table['date'].iloc[row].date()}"
        )
    series = []
    for asset, rows in table.groupby("asset", sort=True):
        wide = rows.pivot(index="date", columns="field", values="value").sort_index().reset_index()
        wide.columns = [str(c) for c in wide.columns]
        frame = frame_from_table(wide, f"{path} (asset {asset})")
        series.append(AssetSeries(name=str(asset), frame=frame, source=str(path)))
    return series


def _check_long_values(table: pd.DataFrame, path: Path) -> None:
    """Value checks of a long file on its own rows, so that the line named is the file's (the per-asset
    checks after the pivot would count the pivoted rows)."""
    values = table["value"].to_numpy(float)
    volume = (table["field"] == "volume").to_numpy()
    problems = (
        ("infinite value", np.isinf(values)),
        ("non-positive price", ~volume & (values <= 0)),
        ("negative volume", volume & (values < 0)),
    )
    for what, bad in problems:
        rows = np.flatnonzero(bad)
        if len(rows):
            row = int(rows[0])
            raise DataError(
                f"{path}: column '{written(table, 'value')}' line {_line(row)}: {what} {values[row]:g} "
                f"(asset {table['asset'].iloc[row]!r}, field {table['field'].iloc[row]!r})"
            )


def discover_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: data folder not found")
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of price files")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and not p.name.startswith("."))
    if not files:
        raise DataError(f"{folder}: no .csv or .parquet price files in this folder")
    return files
