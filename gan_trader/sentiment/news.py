"""Read news headlines (CSV or JSONL), validate them, and assign each to the trading day it can first inform.

A headline published before the close counts for that day; one at or after the close (exchange time) counts
for the next trading day of the target's calendar, so weekends and holidays roll forward. Naive timestamps
are read in the news timezone; a date without a time of day is, by default, treated as published after the
close (its hour is unknown, and assuming "before the close" could leak that day's news into that day's row).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gan_trader.data.loaders import normalise_column, read_table
from gan_trader.errors import DataError

TIMESTAMP_NAMES = ("timestamp", "datetime", "published", "published_at", "date", "time")
HEADLINE_NAMES = ("headline", "title")
BODY_NAMES = ("body", "summary", "text")
TICKER_NAMES = ("ticker", "symbol", "tickers")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
NEWS_SUFFIXES = (".csv", ".txt", *JSONL_SUFFIXES)
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}|T\d{2}")
TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)$", re.IGNORECASE)
TICKER_SPLIT = re.compile(r"[,;| ]+")

DateOnlyPolicy = Literal["next_day", "same_day"]


@dataclass(frozen=True)
class NewsSource:
    """Validated headlines in file order; `published` is tz-aware (UTC), `line` the row's line in the file."""

    path: Path
    headlines: pd.DataFrame  # columns: published, headline, body, ticker, date_only, written_date, line

    def __len__(self) -> int:
        return len(self.headlines)

    def texts(self, include_body: bool = False) -> list[str]:
        """The text each headline is encoded as: the headline, optionally followed by its body."""
        headline = self.headlines["headline"]
        if not include_body:
            return headline.tolist()
        body = self.headlines["body"]
        joined = headline.where(body.str.len() == 0, headline + ". " + body)
        return joined.tolist()


def check_timezone(name: str, key: str) -> ZoneInfo:
    """A ZoneInfo for `name`, or a one-line error naming the config key."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"{key}: unknown timezone {name!r} (use an IANA name such as America/New_York)"
        ) from None


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines allowed); a .json file holding one array of objects works too."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a JSONL news file")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path}: binary content, expected a JSONL text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text, expected a JSONL file") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
        if not all(isinstance(r, dict) for r in records):
            raise DataError(f"{path}: a JSON array of news must hold objects")
        lines = list(range(1, len(records) + 1))
    else:
        records, lines = [], []
        for number, row in enumerate(text.splitlines(), start=1):
            if not row.strip():
                continue
            try:
                record = json.loads(row)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
            lines.append(number)
    if not records:
        raise DataError(f"{path}: no headlines (the file has no records)")
    table = pd.DataFrame.from_records(records)
    table.columns = [normalise_column(c) for c in table.columns]
    table["__line__"] = lines
    return table


def _read_table(path: Path, kind: str) -> pd.DataFrame:
    """A CSV or JSONL file by its suffix; `kind` names the file in the error for any other type."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path)
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    raise DataError(f"{path}: unsupported {kind} file type {suffix or '(none)'!r}; use .csv or .jsonl")


def _read_csv(path: Path) -> pd.DataFrame:
    table = read_table(path)
    # read_table gives strings with the header on line 1; quoted multi-line cells would shift this number.
    table["__line__"] = np.arange(len(table)) + 2
    return table


def _pick(table: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in table.columns), None)


def _text_column(table: pd.DataFrame, column: str) -> pd.Series:
    values = table[column]
    return values.where(values.notna(), "").astype(str).str.strip()


def _parse_timestamps(
    table: pd.DataFrame, column: str, path: Path, timezone: ZoneInfo
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse the timestamp column to UTC; naive stamps are local to `timezone`.

    Returns (published in UTC, date_only mask, the written date of date-only rows as datetime64[D]).
    """
    lines = table["__line__"].to_numpy()
    raw = table[column]
    text = raw.where(raw.notna(), "").astype(str).str.strip()
    empty = np.flatnonzero((text == "").to_numpy())
    if len(empty):
        raise DataError(f"{path}: column '{column}' line {lines[empty[0]]}: empty timestamp")
    aware = text.str.contains(TZ_SUFFIX).to_numpy()
    date_only = ~text.str.contains(TIME_OF_DAY).to_numpy()
    published = pd.Series(pd.NaT, index=table.index, dtype="datetime64[us, UTC]")
    written = np.full(len(table), np.datetime64("NaT"), dtype="datetime64[D]")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        published[aware] = parsed.dt.as_unit("us")
        written[aware] = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], errors="coerce", format="mixed")
        if getattr(naive.dt, "tz", None) is not None:  # an offset the suffix pattern did not recognise
            naive = naive.dt.tz_convert(timezone).dt.tz_localize(None)
        written[~aware] = naive.to_numpy().astype("datetime64[D]")
        # Ambiguous local times (the autumn DST hour) read as standard time; nonexistent ones shift forward.
        local = naive.dt.tz_localize(
            timezone, ambiguous=np.zeros(len(naive), dtype=bool), nonexistent="shift_forward"
        )
        published[~aware] = local.dt.tz_convert("UTC").dt.as_unit("us")
    bad = np.flatnonzero(published.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}: column '{column}' line {lines[row]}: unparseable timestamp {text.iloc[row]!r}"
        )
    return published, date_only, np.where(date_only, written, np.datetime64("NaT"))


def _ticker_filter(tickers: pd.Series, ticker: str) -> np.ndarray:
    wanted = ticker.strip().upper()
    return np.array([wanted in TICKER_SPLIT.split(cell.upper()) for cell in tickers], dtype=bool)


def load_news(
    path: str | Path,
    *,
    timezone: str = "America/New_York",
    ticker: str | None = None,
    timezone_key: str = "data.news_timezone",
) -> NewsSource:
    """Read and validate a news file; keep only `ticker`'s headlines when the file has a ticker column."""
    path = Path(path)
    zone = check_timezone(timezone, timezone_key)
    table = _read_table(path, "news")
    stamp_column = _pick(table, TIMESTAMP_NAMES)
    if stamp_column is None:
        columns = ", ".join(c for c in table.columns if c != "__line__")
        raise DataError(f"{path}: missing column 'timestamp' (columns: {columns})")
    headline_column = _pick(table, HEADLINE_NAMES)
    if headline_column is None:
        columns = ", ".join(c for c in table.columns if c != "__line__")
        raise DataError(f"{path}: missing column 'headline' (columns: {columns})")
    headline = _text_column(table, headline_column)
    lines = table["__line__"].to_numpy()
    blank = np.flatnonzero((headline == "").to_numpy())
    if len(blank):
        raise DataError(f"{path}: column '{headline_column}' line {lines[blank[0]]}: empty headline")
    published, date_only, written_date = _parse_timestamps(table, stamp_column, path, zone)
    body_column = _pick(table, BODY_NAMES)
    ticker_column = _pick(table, TICKER_NAMES)
    headlines = pd.DataFrame(
        {
            "published": published.to_numpy(),
            "headline": headline.to_numpy(),
            "body": _text_column(table, body_column).to_numpy() if body_column else "",
            "ticker": _text_column(table, ticker_column).to_numpy() if ticker_column else "",
            "date_only": date_only,
            "written_date": written_date,
            "line": lines,
        }
    )
    if ticker_column is not None and ticker is not None:
        keep = _ticker_filter(headlines["ticker"], ticker)
        if not keep.any():
            present = sorted(set(headlines["ticker"]) - {""})[:5]
            raise DataError(
                f"{path}: column '{ticker_column}': no headline for ticker {ticker!r} "
                f"(tickers present include: {', '.join(present) or 'none'})"
            )
        headlines = headlines.loc[keep].reset_index(drop=True)
    return NewsSource(path=path, headlines=headlines)


def parse_close_time(value: str, key: str) -> dt.time:
    """'HH:MM' -> time, or a one-line error naming the config key."""
    try:
        return dt.datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        raise DataError(f"{key}: expected a time of day as HH:MM, got {value!r}") from None


def effective_dates(
    headlines: pd.DataFrame,
    *,
    exchange_timezone: str = "America/New_York",
    close_time: dt.time = dt.time(16, 0),
    date_only_policy: DateOnlyPolicy = "next_day",
) -> np.ndarray:
    """The first calendar date (datetime64[D]) on whose close each headline is known, before holidays."""
    local = headlines["published"].dt.tz_convert(exchange_timezone).dt.tz_localize(None)
    day = local.dt.normalize().to_numpy().astype("datetime64[D]")
    seconds = (local - local.dt.normalize()).dt.total_seconds().to_numpy()
    close_seconds = close_time.hour * 3600 + close_time.minute * 60 + close_time.second
    # At the close or later, the news reaches the market on the next session.
    after_close = seconds >= close_seconds
    date_only = headlines["date_only"].to_numpy(dtype=bool)
    if date_only.any():
        # A bare date is the written calendar date whatever the timezones; its hour is unknown.
        day = np.where(date_only, headlines["written_date"].to_numpy().astype("datetime64[D]"), day)
        after_close = np.where(date_only, date_only_policy == "next_day", after_close)
    return day + after_close.astype("timedelta64[D]")


def assign_trading_days(effective: np.ndarray, calendar: pd.DatetimeIndex) -> np.ndarray:
    """Position in `calendar` of the trading day each headline counts for; -1 when it is outside the calendar.

    The next trading day on or after the effective date. Headlines that reach the market only after the
    calendar's last day are left out (their day is not in the frame). Before the first day, only a weekend
    just before it rolls into it: a weekday earlier than the first day may have been a session the frame
    does not hold, so its news is left out rather than piled onto the first row.
    """
    days = calendar.to_numpy().astype("datetime64[D]")
    if len(days) == 0:
        return np.full(len(effective), -1, dtype=np.int64)
    positions = np.searchsorted(days, effective, side="left").astype(np.int64)
    early = effective < days[0]
    early[early] = np.busday_count(effective[early], days[0]) > 0
    positions[(positions >= len(days)) | early] = -1
    return positions


LABEL_NAMES = ("label", "sentiment", "class")
LABELLED_TEXT_NAMES = ("headline", "title", "text", "sentence")
LABEL_VALUES = {"-1": 0, "0": 1, "1": 2}


def _label_value(value: str) -> int | None:
    lowered = value.strip().lower()
    if lowered in LABEL_VALUES:
        return LABEL_VALUES[lowered]
    for index, prefix in enumerate(("neg", "neu", "pos")):
        if lowered.startswith(prefix):
            return index
    return None


def has_labels(path: str | Path) -> bool:
    """Whether a (readable) news file also labels its headlines: a `label` / `sentiment` / `class` column."""
    return _pick(_read_table(Path(path), "news"), LABEL_NAMES) is not None


def load_labelled(path: str | Path, *, timezone: str = "America/New_York") -> pd.DataFrame:
    """Read labelled headlines (headline + label, optional timestamp) for training the head.

    Labels: negative/neutral/positive (any case, prefixes neg/neu/pos accepted) or -1/0/1. The frame has
    columns headline, label (0 negative, 1 neutral, 2 positive), line, and, when the file is dated,
    published, date_only and written_date (so the caller can keep only training-span rows).
    """
    path = Path(path)
    zone = check_timezone(timezone, "data.news_timezone")
    table = _read_table(path, "labelled")
    text_column = _pick(table, LABELLED_TEXT_NAMES)
    label_column = _pick(table, LABEL_NAMES)
    columns = ", ".join(c for c in table.columns if c != "__line__")
    if text_column is None:
        raise DataError(f"{path}: missing column 'headline' (columns: {columns})")
    if label_column is None:
        raise DataError(f"{path}: missing column 'label' (columns: {columns})")
    lines = table["__line__"].to_numpy()
    headline = _text_column(table, text_column)
    blank = np.flatnonzero((headline == "").to_numpy())
    if len(blank):
        raise DataError(f"{path}: column '{text_column}' line {lines[blank[0]]}: empty headline")
    raw_labels = _text_column(table, label_column)
    labels = [_label_value(v) for v in raw_labels]
    bad = [i for i, v in enumerate(labels) if v is None]
    if bad:
        raise DataError(
            f"{path}: column '{label_column}' line {lines[bad[0]]}: unknown label "
            f"{raw_labels.iloc[bad[0]]!r} (expected negative, neutral or positive)"
        )
    frame = pd.DataFrame(
        {"headline": headline.to_numpy(), "label": np.array(labels, dtype=np.int64), "line": lines}
    )
    stamp_column = _pick(table, TIMESTAMP_NAMES)
    if stamp_column is not None:
        published, date_only, written_date = _parse_timestamps(table, stamp_column, path, zone)
        frame["published"] = published.to_numpy()
        frame["date_only"] = date_only
        frame["written_date"] = written_date
    return frame
