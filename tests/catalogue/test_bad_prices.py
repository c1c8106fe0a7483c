"""The catalogue of bad price files: the loader raises a DataError whose one line names the file and the
column or line at fault, and `gan-trader data validate` exits 2 with that line and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from catalogue_checks import Content, NotAFile, assert_cli_refuses, write_input
from cli_runner import CliRunner
from one_line import assert_one_line

from gan_trader.data.loaders import load_asset_file, load_long_file
from gan_trader.errors import DataError


@dataclass(frozen=True)
class BadPrices:
    content: Content
    expected: str  # the part of the one line that says what is wrong, and where
    name: str = "bad.csv"
    long: bool = False  # a long-format file (date, asset, field, value), read by load_long_file


YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
YAHOO_ROWS = "".join(
    f"2020-01-{d:02d},{10 + d},{11 + d},{9 + d},{10.5 + d},{10.5 + d},100\n" for d in range(2, 10)
)
LONG_ROWS = "date,asset,field,value\n" + "".join(
    f"{day},AAA,close,10\n{day},BBB,Adj Close,20\n" for day in ("2020-01-02", "2020-01-03", "2020-01-06")
)

BAD_PRICE_FILES: dict[str, BadPrices] = {
    # layout
    "empty file": BadPrices("", "file is empty"),
    "header only": BadPrices("Date,Close\n", "no data rows"),
    "binary junk (PNG)": BadPrices(b"\x89PNG\r\n\x1a\n\x00\x00junk", "binary content"),
    "binary junk (NUL bytes)": BadPrices(b"\x00\x01\x02binary\xff", "binary content"),
    "not UTF-8": BadPrices(b"Date,Close\n2020-01-02,\xff\xfe1\n", "not UTF-8"),
    "ragged rows": BadPrices("Date,Close\n2020-01-02,1\n2020-01-03,1,2,3\n", "malformed CSV"),
    "semicolons": BadPrices("Date;Close\n2020-01-02;1\n", "semicolon"),
    "semicolons, no Date header": BadPrices("Day;Close\n2020-01-02;1\n", "semicolon"),
    "tabs": BadPrices("Date\tClose\n2020-01-02\t1\n", "tab"),
    "directory": BadPrices(NotAFile.DIRECTORY, "is a directory"),
    "missing file": BadPrices(NotAFile.MISSING, "file not found", name="nope.csv"),
    # columns
    "no date column": BadPrices("Close\n1\n", "missing column 'date'"),
    "no date column, two values": BadPrices("Price,Volume\n1,2\n", "missing column 'date'"),
    "no close column": BadPrices("Date,Volume,Other\n2020-01-02,1,2\n", "missing column 'close'"),
    "open without high": BadPrices("Date,Open,Close\n2020-01-02,1,1\n", "missing column 'high'"),
    "duplicated column": BadPrices("Date,Close,Close\n2020-01-02,1,1\n", "duplicated column 'Close'"),
    "duplicated column, another spelling": BadPrices(
        "Date,Adj Close,adj_close\n2020-01-02,1,1\n",
        "duplicated column 'adj_close' (the same as 'Adj Close')",
    ),
    "all missing, empty cells": BadPrices(
        "Date,Close\n2020-01-02,\n2020-01-03,\n", "no values (all missing)"
    ),
    "all missing, null and empty": BadPrices(
        "Date,Close\n2020-01-02,null\n2020-01-03,\n", "no values (all missing)"
    ),
    # dates
    "duplicate date": BadPrices(
        "Date,Close\n2020-01-02,1\n2020-01-02,2\n", "line 3: duplicate date 2020-01-02"
    ),
    "duplicate date, Yahoo layout": BadPrices(
        YAHOO_HEADER + YAHOO_ROWS + "2020-01-09,1,2,0.5,1,1,1\n", "line 10: duplicate date"
    ),
    "intraday bars (hourly, Yahoo's Datetime column)": BadPrices(
        "Datetime,Open,High,Low,Close,Volume\n"
        "2017-04-19 09:30:00-04:00,1,2,0.5,1,10\n2017-04-19 10:30:00-04:00,1,2,0.5,1,10\n",
        "column 'Datetime' line 3: intraday timestamps ('2017-04-19 10:30:00-04:00' on the same day as "
        "'2017-04-19 09:30:00-04:00'); daily bars expected: resample to one row per day first",
    ),
    "intraday bars, long file": BadPrices(
        "date,asset,field,value\n2017-04-19 09:30,A,close,1\n2017-04-19 09:30,B,close,2\n"
        "2017-04-19 10:30,A,close,1\n",
        "line 4: intraday timestamps",
        long=True,
    ),
    "dates out of order": BadPrices(
        "Date,Close\n2020-01-02,1\n2020-01-06,1\n2020-01-03,1\n", "column 'Date' line 4: dates out of order"
    ),
    "descending, then not": BadPrices(
        "Date,Close\n2020-01-03,1\n2020-01-02,2\n2020-01-06,2\n", "line 3: dates out of order"
    ),
    "unparseable date": BadPrices("Date,Close\n2020-01-02,1\nyesterday,1\n", "line 3: unparseable date"),
    "impossible date": BadPrices(
        "Date,Close\n2020-01-02,1\n2020-13-45,2\n", "column 'Date' line 3: unparseable date"
    ),
    # values
    "not a number": BadPrices(
        "Date,Close\n2020-01-02,1\n2020-01-03,x\n", "column 'Close' line 3: not a number"
    ),
    "not a number, Yahoo layout": BadPrices(
        YAHOO_HEADER + "2020-01-02,1,2,0.5,one,1,1\n", "column 'Close' line 2: not a number"
    ),
    "not a number in Adj Close": BadPrices(
        YAHOO_HEADER + "2020-01-02,1,2,0.5,1,n/a?,1\n", "column 'Adj Close' line 2: not a number"
    ),
    "negative price": BadPrices(
        "Date,Close\n2020-01-02,1\n2020-01-03,-4\n", "column 'Close' line 3: non-positive price"
    ),
    "zero price": BadPrices("Date,Close\n2020-01-02,0\n", "line 2: non-positive price"),
    "infinite price": BadPrices("Date,Close\n2020-01-02,inf\n", "infinite value"),
    "negative volume": BadPrices("Date,Close,Volume\n2020-01-02,1,-5\n", "negative volume"),
    # long format
    "long file, unknown field": BadPrices(
        "date,asset,field,value\n2020-01-02,A,price,1\n",
        "column 'field' line 2: unknown field 'price'",
        long=True,
    ),
    "long file, non-positive price": BadPrices(
        LONG_ROWS + "2020-01-07,BBB,Adj Close,-3\n",
        "column 'value' line 8: non-positive price -3 (asset 'BBB', field 'adj_close')",
        long=True,
    ),
    "long file, duplicate entry": BadPrices(
        LONG_ROWS + "2020-01-06,AAA,close,11\n", "line 8: duplicate entry for asset 'AAA'", long=True
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PRICE_FILES))
def test_loader_names_the_file_and_the_fault(case: str, tmp_path: Path) -> None:
    bad = BAD_PRICE_FILES[case]
    path = write_input(tmp_path, bad.name, bad.content)
    with pytest.raises(DataError) as info:
        (load_long_file if bad.long else load_asset_file)(path)
    assert_one_line(info.value, str(path), bad.expected)


@pytest.mark.parametrize("case", sorted(BAD_PRICE_FILES))
def test_data_validate_exits_2_with_that_line(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    bad = BAD_PRICE_FILES[case]
    path = write_input(in_tmp, bad.name, bad.content)
    assert_cli_refuses(run_cli, in_tmp, ["data", "validate", str(path)], str(path), bad.expected)


def test_data_validate_checks_every_file_and_reports_each(in_tmp: Path, run_cli: CliRunner) -> None:
    """It stopped at the first bad file: the files after it went unchecked."""
    good = write_input(in_tmp, "GOOD.csv", YAHOO_HEADER + YAHOO_ROWS)
    bad_cell = write_input(in_tmp, "CELL.csv", YAHOO_HEADER + "2020-01-02,1,2,0.5,1,n/a?,1\n")
    empty = write_input(in_tmp, "EMPTY.csv", "")
    also_good = write_input(in_tmp, "ALSO.csv", "Date,Close\n2020-01-02,1\n2020-01-03,2\n")
    code, out, err = run_cli(["data", "validate", str(bad_cell), str(good), str(empty), str(also_good)])
    assert code == 2
    assert [line.split()[:2] for line in out.splitlines()] == [["ok", str(good)], ["ok", str(also_good)]]
    errors = [line for line in err.splitlines() if line.strip()]
    assert errors == [
        f"error: {bad_cell}: column 'Adj Close' line 2: not a number: 'n/a?'",
        f"error: {empty}: file is empty",
    ]
