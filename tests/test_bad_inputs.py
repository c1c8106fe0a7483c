"""The catalogue of bad inputs: each exits 2 with one line naming the culprit, and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import CliRunner

GOOD_ROWS = "".join(
    f"2020-01-{d:02d},{10 + d},{11 + d},{9 + d},{10.5 + d},{10.5 + d},100\n" for d in range(2, 10)
)
YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"

PRICE_FILES: dict[str, tuple[bytes | str | None, str]] = {
    "ragged rows": ("Date,Close\n2020-01-02,1\n2020-01-03,1,2,3\n", "malformed CSV"),
    "semicolons": ("Date;Close\n2020-01-02;1\n", "semicolon"),
    "tabs": ("Date\tClose\n2020-01-02\t1\n", "tab"),
    "no close": ("Date,Volume,Other\n2020-01-02,1,2\n", "missing column 'close'"),
    "no date": ("Close\n1\n", "missing column 'date'"),
    "duplicated column": ("Date,Close,Close\n2020-01-02,1,1\n", "duplicated column 'close'"),
    "duplicate date": (YAHOO_HEADER + GOOD_ROWS + "2020-01-09,1,2,0.5,1,1,1\n", "line 10: duplicate date"),
    "unsorted dates": (
        "Date,Close\n2020-01-02,1\n2020-01-06,1\n2020-01-03,1\n",
        "line 4: dates out of order",
    ),
    "unparseable date": ("Date,Close\n2020-01-02,1\nyesterday,1\n", "line 3: unparseable date"),
    "non-numeric price": (YAHOO_HEADER + "2020-01-02,1,2,0.5,one,1,1\n", "column 'close' line 2"),
    "negative price": ("Date,Close\n2020-01-02,1\n2020-01-03,-4\n", "line 3: non-positive price"),
    "zero price": ("Date,Close\n2020-01-02,0\n", "line 2: non-positive price"),
    "all-NaN column": ("Date,Close\n2020-01-02,null\n2020-01-03,\n", "no values (all missing)"),
    "infinite price": ("Date,Close\n2020-01-02,inf\n", "infinite value"),
    "empty file": ("", "file is empty"),
    "header only": ("Date,Close\n", "no data rows"),
    "binary junk": (b"\x89PNG\r\n\x1a\n\x00\x00junk", "binary content"),
    "long file unknown field": ("date,asset,field,value\n2020-01-02,A,price,1\n", "unknown field 'price'"),
    "not UTF-8": (b"Date,Close\n2020-01-02,\xff\xfe1\n", "not UTF-8"),
}


def assert_clean_failure(code: int, err: str, expected: str, workdir: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert expected in lines[0], lines[0]
    assert not (workdir / "runs" / "mlflow.db").exists()
    assert not (workdir / "out.csv").exists()


@pytest.mark.parametrize("case", sorted(PRICE_FILES))
def test_bad_price_file(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    content, expected = PRICE_FILES[case]
    path = in_tmp / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else str(content).encode())
    code, _out, err = run_cli(["data", "validate", str(path)])
    assert_clean_failure(code, err, expected, in_tmp)
    assert str(path) in err


def test_directory_and_missing_file(in_tmp: Path, run_cli: CliRunner) -> None:
    code, _out, err = run_cli(["data", "validate", str(in_tmp)])
    assert_clean_failure(code, err, "is a directory", in_tmp)
    code, _out, err = run_cli(["data", "validate", "nope.csv"])
    assert_clean_failure(code, err, "nope.csv: file not found", in_tmp)


CONFIG_CASES: dict[str, tuple[list[str], str]] = {
    "unknown key": (["--set", "gan.epochz=3"], "gan.epochz: unknown key"),
    "wrong type": (["--set", "gan.batch_size=large"], "gan.batch_size"),
    "out of range": (["--set", "gan.epochs=0"], "gan.epochs"),
    "conflicting split dates": (
        ["--set", "split.train_end=2015-01-02", "--set", "split.val_end=2010-01-04"],
        "must come before",
    ),
    "mixed split kinds": (["--set", "split.train_end=2010-01-04"], "both be fractions or both be dates"),
    "split date before the data": (
        ["--set", "split.train_end=1990-01-02", "--set", "split.val_end=2015-01-02"],
        "split.train_end",
    ),
    "unknown builder": (["--set", "features.builders.magic={}"], "features.builders.magic: unknown builder"),
    "bad builder parameter": (
        ["--set", "features.builders.technical.no_such_param=1"],
        "features.builders.technical.no_such_param",
    ),
    "unknown strategy": (["--set", "tuning.strategy=genetic"], "tuning.strategy"),
    "inverted range": (
        ["--set", "tuning.space.dropout={type: float, low: 0.6, high: 0.1}"],
        "tuning.space.dropout",
    ),
    "unknown baseline": (["--set", "evaluation.baselines=[prophet]"], "evaluation.baselines"),
    "unknown target": (["--set", "data.target=NOPE"], "data.target: target 'NOPE'"),
    "missing data folder": (["--set", "data.prices_dir=nowhere"], "nowhere: data folder not found"),
    "too few rows": (["--set", "data.start=2017-10-02"], "fewer than"),
    "bad device": (["--set", "gan.device=tpu"], "gan.device"),
    "override without value": (["--set", "gan.epochs"], "expected key.path=value"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    overrides, expected = CONFIG_CASES[case]
    code, _out, err = run_cli(["run", "experiments/default.yaml", "--quiet", *overrides])
    assert_clean_failure(code, err, expected, in_tmp)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gan: [unclosed\n", "invalid YAML"),
        ("", "config file is empty"),
        ("extends: missing.yaml\n", "missing.yaml: config file not found"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_bad_config_file(text: str, expected: str, in_tmp: Path, run_cli: CliRunner) -> None:
    path = in_tmp / "broken.yaml"
    path.write_text(text)
    code, _out, err = run_cli(["features", "build", str(path), "--out", "out.csv"])
    assert_clean_failure(code, err, expected, in_tmp)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nosuch"], "No such command"),
        (["data", "validate"], "Missing argument"),
        (["tune", "experiments/default.yaml", "--episodes", "many"], "--episodes"),
        (["tune", "experiments/default.yaml", "--episodes", "0"], "--episodes"),
        (["run", "experiments/nope.yaml"], "config file not found"),
        (["features", "build", "experiments/default.yaml"], "Missing option '--out'"),
        (["bench", "--only", "nosuch"], "unknown benchmark"),
    ],
)
def test_bad_cli_arguments(argv: list[str], expected: str, in_tmp: Path, run_cli: CliRunner) -> None:
    code, _out, err = run_cli(argv)
    assert_clean_failure(code, err, expected, in_tmp)


NEWS_FILES: dict[str, tuple[str, bytes | str, str]] = {
    "missing headline column": (
        "news.csv",
        "timestamp,text2\n2020-01-02 10:00,x\n",
        "missing column 'headline'",
    ),
    "missing timestamp column": ("news.csv", "headline\nMSFT beats\n", "missing column 'timestamp'"),
    "unparseable timestamp": (
        "news.csv",
        "timestamp,headline\n2020-01-02 10:00,ok\nsoon,MSFT beats\n",
        "line 3",
    ),
    "empty file": ("news.csv", "", "file is empty"),
    "binary junk": ("news.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00junk", "binary content"),
    "invalid JSON line": ("news.jsonl", '{"timestamp": "2020-01-02", "headline": "a"}\n{oops\n', "line 2"),
    "unsupported type": ("news.xlsx", "timestamp,headline\n", "unsupported news file type"),
}


@pytest.mark.parametrize("case", sorted(NEWS_FILES))
def test_bad_news_file(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    name, content, expected = NEWS_FILES[case]
    path = in_tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, _out, err = run_cli(["sentiment", "score", str(path), "--out", "out.csv"])
    assert_clean_failure(code, err, expected, in_tmp)
    assert str(path) in err
