"""`gan-trader episodes list`: the columns that matter within 120 terminal columns; --columns and --json
for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import CliRunner

from gan_trader.config import TrackingConfig
from gan_trader.errors import EpisodeFailed
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import ACTION_TAG, STRATEGY_TAG

LONG_REASON = "RuntimeError: " + "the critic's output has the wrong shape for this window; " * 4
DEFAULT_HEADERS = [
    "index",
    "status",
    "action",
    "epochs",
    "val/crps_rel",
    "test/crps_rel",
    "reward",
    "failure",
]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A session of three episodes with a dozen metrics each, the last one FAILED with a long reason."""
    root = tmp_path_factory.mktemp("list")
    tracking = TrackingConfig(uri=f"sqlite:///{root}/mlflow.db", artifact_root=root / "artifacts")
    recorder = open_recorder(tracking, "a-rather-long-experiment-name-for-a-narrow-terminal")
    session = recorder.start_session(
        "rl-session", params={"objective": "val/crps_rel", "strategy": "rl"}, tags={STRATEGY_TAG: "rl"}
    )
    for index in range(2):
        with recorder.episode(session, index, tags={ACTION_TAG: "keep" if index else "new"}) as run_id:
            metrics = {f"{span}/{name}": 0.5 + index for span in ("val", "test") for name in ("mae", "rmse")}
            metrics.update({"val/crps_rel": 0.98 - index / 100, "test/crps_rel": 1.01, "tune/epochs": 4})
            metrics.update({"val/relmae": 1.01, "test/relmae": 0.99, "val/pinball_05": 0.001})
            recorder.log_metrics(run_id, {**metrics, "tune/reward": 0.25 * index})
    with pytest.raises(EpisodeFailed), recorder.episode(session, 2, tags={ACTION_TAG: "new"}):
        raise EpisodeFailed(LONG_REASON)
    recorder.finish(session)
    return {"uri": tracking.uri, "session": session}


def _table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def test_episodes_fit_120_columns_with_the_columns_that_matter(
    logged: dict[str, str], run_cli: CliRunner
) -> None:
    code, out, err = run_cli(
        ["episodes", "list", "--session", logged["session"], "--tracking-uri", logged["uri"]]
    )
    assert code == 0, err
    lines = _table_lines(out)
    assert max(len(line) for line in lines) <= 120, out
    header = next(line for line in lines if "status" in line)
    for name in DEFAULT_HEADERS:  # every header whole, on one line
        assert name in header, header
    assert "val/mae" not in out and "run_id" not in out  # the rest: --columns / --json
    assert "FAILED" in out and "RuntimeError: the critic" in out and LONG_REASON.strip() not in out
    assert "0.98" in out and "0.25" in out and "keep" in out


def test_sessions_fit_120_columns(logged: dict[str, str], run_cli: CliRunner) -> None:
    code, out, err = run_cli(["episodes", "list", "--tracking-uri", logged["uri"]])
    assert code == 0, err
    assert max(len(line) for line in _table_lines(out)) <= 120, out
    assert logged["session"] in out  # the whole id: it is what --resume and --session take


def test_columns_picks_any_column(logged: dict[str, str], run_cli: CliRunner) -> None:
    argv = ["episodes", "list", "--session", logged["session"], "--tracking-uri", logged["uri"]]
    code, out, err = run_cli([*argv, "--columns", "index,val/mae,run_id"])
    assert code == 0, err
    header = next(line for line in _table_lines(out) if "index" in line)
    assert "val/mae" in header and "run_id" in header and "status" not in header


def test_json_gives_every_column(logged: dict[str, str], run_cli: CliRunner) -> None:
    argv = ["episodes", "list", "--session", logged["session"], "--tracking-uri", logged["uri"]]
    code, out, err = run_cli([*argv, "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert [row["index"] for row in rows] == [0, 1, 2]
    assert rows[2]["failure"] == LONG_REASON and rows[1]["val/pinball_05"] == 0.001 and rows[0]["run_id"]
    code, out, _err = run_cli([*argv, "--json", "--columns", "index,status"])
    assert json.loads(out) == [
        {"index": 0, "status": "FINISHED"},
        {"index": 1, "status": "FINISHED"},
        {"index": 2, "status": "FAILED"},
    ]


def test_unknown_column_is_one_line(logged: dict[str, str], run_cli: CliRunner, tmp_path: Path) -> None:
    argv = ["episodes", "list", "--session", logged["session"], "--tracking-uri", logged["uri"]]
    code, _out, err = run_cli([*argv, "--columns", "index,nosuch"])
    lines = _table_lines(err)
    assert code == 2 and len(lines) == 1 and "--columns: no column 'nosuch'" in lines[0], err
