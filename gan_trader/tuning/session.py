"""A tuning session: the strategy proposes, the executor runs episodes, everything is logged and resumable.

The session is a parent MLflow run; its id is the session id. State lives in
`<tuning.sessions_dir or runs_dir/sessions>/<session id>/`: `state.json` (plan, finished episodes, the
episodes submitted but not finished, epochs spent) and `strategy/` (optimiser observations, RNG, pending
suggestions). Both are written atomically after every decision and every finished episode.

Resume (`--resume SESSION`, or `resume=` here) after a crash or SIGKILL:
1. every run of this session still RUNNING in the store (the episodes the killed process was training) is
   ended FAILED with the reason "interrupted; re-run on resume";
2. an episode that FINISHED (or FAILED on its own) in the store but was not yet recorded in `state.json`
   (killed between the two) is adopted as it is, never re-run;
3. each interrupted episode is re-run under the same index with the same hyperparameters (its spec was
   saved before it started), so the store then holds one FAILED "interrupted" run and one FINISHED run for
   that index, and every index has exactly one FINISHED (or one genuinely FAILED) run;
4. the planned episodes left are run; nothing already logged is repeated.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gan_trader.config import ExperimentConfig
from gan_trader.errors import TrackingError, TuningError
from gan_trader.io import write_json
from gan_trader.models.base import ForecastTask
from gan_trader.tuning.bayes import logged_observations
from gan_trader.tuning.env import relative_error, reward
from gan_trader.tuning.episode import FAILED, FINISHED, EpisodeResult, EpisodeSpec
from gan_trader.tuning.executor import (
    EpisodeJob,
    Executor,
    absolute_paths,
    absolute_tracking,
    make_executor,
)
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies import Action, Strategy, make_strategy

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted; re-run on resume"
STATE_FILE = "state.json"


@dataclass
class SessionResult:
    """The episodes of a session in index order, the best one, and the compute spent."""

    session_id: str
    strategy: str
    folder: Path
    objective: str
    episodes: list[EpisodeResult] = field(default_factory=list)
    epochs_spent: int = 0

    @property
    def best(self) -> EpisodeResult | None:
        finished = [e for e in self.episodes if e.ok and math.isfinite(e.objective(self.objective))]
        return min(finished, key=lambda e: e.objective(self.objective)) if finished else None

    def table(self) -> pd.DataFrame:
        """One row per episode: epochs spent, the objective, the best so far, the test error at that best."""
        rows, spent, best, test_at_best = [], 0, math.inf, math.nan
        test_key = self.objective.replace("val/", "test/")
        for episode in self.episodes:
            spent += episode.epochs
            value = episode.objective(self.objective)
            if value < best:
                best, test_at_best = value, episode.metrics.get(test_key, math.nan)
            rows.append(
                {
                    "episode": episode.index,
                    "action": episode.action,
                    "status": episode.status,
                    "reward": episode.reward,
                    "epochs": episode.epochs,
                    "epochs_spent": spent,
                    "val_error": value,
                    "best_val": best,
                    "test_at_best": test_at_best,
                    "val_persistence": episode.metrics.get(
                        self.objective.replace("val/", "val/persistence_")
                    ),
                    "test_persistence": episode.metrics.get(test_key.replace("test/", "test/persistence_")),
                    "run_id": episode.run_id,
                    "reason": episode.reason,
                }
            )
        return pd.DataFrame(rows)


def sessions_dir(config: ExperimentConfig) -> Path:
    return Path(config.tuning.sessions_dir or config.runs_dir / "sessions")


def _strategy_name(strategy: str | Strategy | None, config: ExperimentConfig) -> str:
    if isinstance(strategy, Strategy):
        return strategy.name
    return strategy or config.tuning.strategy


class _Session:
    """The state machine behind `run_session`."""

    def __init__(
        self,
        config: ExperimentConfig,
        task: ForecastTask,
        recorder: Any,
        executor: Executor,
        strategy: Strategy,
        state: dict[str, Any],
        folder: Path,
        quiet: bool,
    ) -> None:
        self.config = config
        self.task = task
        self.recorder = recorder
        self.executor = executor
        self.strategy = strategy
        self.state = state
        self.folder = folder
        self.quiet = quiet
        self.objective = config.tuning.objective
        self.history: list[EpisodeResult] = [
            EpisodeResult.from_summary(s)
            for _, s in sorted(state["episodes"].items(), key=lambda i: int(i[0]))
        ]

    @property
    def session_id(self) -> str:
        return str(self.state["session_id"])

    def save(self) -> None:
        self.strategy.save(self.folder / "strategy")
        write_json(self.folder / STATE_FILE, self.state)

    # resume ----------------------------------------------------------------------------------------

    def recover(self) -> list[EpisodeSpec]:
        """Close runs the killed process left RUNNING, adopt episodes it finished, return specs to re-run."""
        from gan_trader.tracking.store import EPISODE_TAG, SESSION_TAG

        client = self.recorder.client
        runs = client.search_runs(
            [self.recorder.experiment_id],
            filter_string=f"tags.`{SESSION_TAG}` = '{self.session_id}'",
            max_results=10000,
        )
        pending = {int(k): EpisodeSpec.from_dict(v) for k, v in self.state["pending"].items()}
        logged: dict[int, Any] = {}
        for run in runs:
            index = int(run.data.tags.get(EPISODE_TAG, -1))
            if run.info.status == "RUNNING":
                self.recorder.finish(run.info.run_id, FAILED, INTERRUPTED)
            elif run.info.status in (FINISHED, FAILED) and index in pending:
                interrupted = run.data.tags.get("gan_trader.failure") == INTERRUPTED
                if not interrupted:
                    logged[index] = run
        for index, run in sorted(logged.items()):
            self.finish_episode(self._adopt(pending[index], run))
            log.info("episode %d was logged before the kill; adopted, not re-run", index)
        return [spec for index, spec in sorted(pending.items()) if index not in logged]

    def _adopt(self, spec: EpisodeSpec, run: Any) -> EpisodeResult:
        from gan_trader.tuning.episode import _latest_checkpoint

        metrics = {k: float(v) for k, v in run.data.metrics.items()}
        epochs = int(metrics.pop("tune/epochs", spec.epochs))
        metrics.pop("tune/total_epochs", None)
        status = run.info.status
        return EpisodeResult(
            spec.index,
            status,
            run.info.run_id,
            dict(spec.hyperparameters),
            metrics,
            epochs,
            spec.prior_epochs + epochs,
            _latest_checkpoint(spec.checkpoint_dir) if status == FINISHED else None,
            run.data.tags.get("gan_trader.failure"),
            spec.action,
            suggestion=spec.suggestion,
        )

    # the loop --------------------------------------------------------------------------------------

    def committed_epochs(self) -> int:
        running = sum(int(spec["epochs"]) for spec in self.state["pending"].values())
        return int(self.state["epochs_spent"]) + running

    def next_spec(self) -> EpisodeSpec | None:
        state = self.state
        budget = int(state["budget_epochs"])
        left = budget - self.committed_epochs()
        if state["stopped"] or state["next_index"] >= state["planned_episodes"] or left <= 0:
            return None
        action: Action = self.strategy.next_action(self.history, left / budget, pending=len(state["pending"]))
        if action.kind == "stop":
            state["stopped"] = True
            self.save()
            return None
        index = int(state["next_index"])
        epochs = min(int(state["epochs_per_episode"]), left)
        folder = self.folder / "episodes" / f"{index:03d}"
        parent = action.parent
        if action.kind == "keep" and parent is not None and parent.checkpoint is not None:
            spec = EpisodeSpec(
                index,
                dict(parent.hyperparameters),
                epochs,
                self.config.seed + parent.index,
                folder,
                "keep",
                parent.checkpoint,
                parent.total_epochs,
                None,
                parent.index,
            )
        else:
            kind = self.strategy.name if self.strategy.name != "rl" else "new"
            spec = EpisodeSpec(
                index,
                dict(action.hyperparameters),
                epochs,
                self.config.seed + index,
                folder,
                kind,
                suggestion=action.suggestion.to_dict() if action.suggestion else None,
            )
        state["next_index"] = index + 1
        state["pending"][str(index)] = spec.to_dict()
        self.save()  # the decision is durable before the episode starts, so a kill re-runs the same spec
        return spec

    def submit(self, spec: EpisodeSpec) -> None:
        job = EpisodeJob(
            self.config,
            # Workers log where the session's recorder logs (it may differ from config.tracking).
            absolute_tracking(
                self.config.tracking.model_copy(
                    update={"uri": self.recorder.uri, "artifact_root": Path(self.recorder.artifact_root)}
                )
            ),
            self.recorder.experiment_name,
            self.session_id,
            spec,
            self.config.executor.torch_threads,
        )
        self.executor.submit(job, self.task)

    def finish_episode(self, result: EpisodeResult) -> None:
        best_before = min((relative_error(r, self.objective) for r in self.history), default=1.0)
        self.history.append(result)
        self.history.sort(key=lambda r: r.index)
        best_after = min(best_before, relative_error(result, self.objective))
        gain = reward(self.config.tuning.reward, result, best_before, best_after)
        self.strategy.observe(result)
        self.state["epochs_spent"] = int(self.state["epochs_spent"]) + result.epochs
        if result.run_id:
            self.recorder.log_metrics(result.run_id, {"tune/reward": gain})
        best = min((r.objective(self.objective) for r in self.history), default=math.inf)
        progress = {
            "tune/best_val": best,
            "tune/epochs_spent": self.state["epochs_spent"],
            "tune/reward": gain,
            "tune/episode_val": result.objective(self.objective),
        }
        self.recorder.log_metrics(
            self.session_id, {k: v for k, v in progress.items() if math.isfinite(v)}, step=result.index
        )
        result.reward = gain
        summary = result.summary()
        self.state["episodes"][str(result.index)] = summary
        self.state["pending"].pop(str(result.index), None)
        self.save()

    def run(self, rerun: list[EpisodeSpec]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, disable=self.quiet, transient=False) as progress:
            bar = progress.add_task(
                f"{self.strategy.name} episodes",
                total=self.state["planned_episodes"],
                completed=len(self.history),
                best="-",
            )
            while True:
                while self.executor.running < self.executor.slots:
                    spec = rerun.pop(0) if rerun else self.next_spec()
                    if spec is None:
                        break
                    self.submit(spec)
                if self.executor.running == 0:
                    break
                for result in self.executor.gather():
                    self.finish_episode(result)
                    best = min((r.objective(self.objective) for r in self.history), default=math.inf)
                    progress.update(bar, advance=1, best=f"{best:.5g}")

    def close(self) -> SessionResult:
        return close_session(
            self.recorder,
            self.state,
            self.folder,
            self.strategy.name,
            self.objective,
            self.history,
            self.strategy,
        )


def close_session(
    recorder: Any,
    state: dict[str, Any],
    folder: Path,
    strategy_name: str,
    objective: str,
    history: list[EpisodeResult],
    strategy: Strategy | None = None,
) -> SessionResult:
    """Log the session's summary (best episode, episode table, progress plot), mark it finished."""
    session_id = str(state["session_id"])
    result = SessionResult(
        session_id,
        strategy_name,
        folder,
        objective,
        sorted(history, key=lambda e: e.index),
        sum(e.epochs for e in history),
    )
    state["epochs_spent"] = result.epochs_spent
    table = result.table()
    best = result.best
    if best is not None:
        recorder.set_tags(
            session_id, {"gan_trader.best_episode": best.index, "gan_trader.best_run": best.run_id}
        )
        recorder.log_metrics(session_id, {f"best/{k}": v for k, v in best.metrics.items()})
    if not table.empty:
        recorder.log_table(session_id, table, "episodes.csv")
        recorder.log_figure(
            session_id, progress_figure({strategy_name: table}, objective), "plots/tuning_progress.png"
        )
    state["finished"] = True
    if strategy is not None:
        strategy.save(folder / "strategy")
    write_json(folder / STATE_FILE, state)
    recorder.finish(session_id, FINISHED)
    return result


def episodes_from_store(recorder: Any, session_id: str, space: SearchSpace) -> list[EpisodeResult]:
    """A session's episodes as logged (used where the episodes ran under another driver, e.g. Ray Tune)."""
    from gan_trader.tracking.store import EPISODE_TAG, SESSION_TAG

    runs = recorder.client.search_runs(
        [recorder.experiment_id], filter_string=f"tags.`{SESSION_TAG}` = '{session_id}'", max_results=10000
    )
    episodes = []
    for run in runs:
        metrics = {k: float(v) for k, v in run.data.metrics.items()}
        epochs = int(metrics.pop("tune/epochs", 0))
        metrics.pop("tune/total_epochs", None)
        logged = {k.removeprefix("hp."): v for k, v in run.data.params.items() if k.startswith("hp.")}
        try:
            params = space.parse(logged)
        except Exception:
            params = dict(logged)
        episodes.append(
            EpisodeResult(
                int(run.data.tags.get(EPISODE_TAG, -1)),
                run.info.status,
                run.info.run_id,
                params,
                metrics,
                epochs,
                epochs + int(float(run.data.params.get("episode.prior_epochs", 0))),
                None,
                run.data.tags.get("gan_trader.failure"),
                run.data.tags.get("gan_trader.action", ""),
            )
        )
    return sorted(episodes, key=lambda e: e.index)


def progress_figure(tables: dict[str, pd.DataFrame], objective: str) -> Any:
    """Best validation error against GAN epochs spent, one line per strategy (tables may hold several seeds:
    the mean over seeds on a common epoch grid), with persistence's error as a dashed line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axis = plt.subplots(figsize=(7, 4))
    persistence = []
    for name, table in tables.items():
        if table.empty:
            continue
        seeds = table["seed"].unique() if "seed" in table else [None]
        grid = np.arange(1, int(table["epochs_spent"].max()) + 1)
        curves = []
        for seed in seeds:
            part = table if seed is None else table[table["seed"] == seed]
            values = part["best_val"].replace(np.inf, np.nan).to_numpy(float)
            steps = part["epochs_spent"].to_numpy(float)
            position = np.searchsorted(steps, grid, side="right") - 1
            curve = np.where(position >= 0, values[np.clip(position, 0, None)], np.nan)
            curves.append(curve)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # epochs no seed reached yet: NaN, not a warning
            mean = np.nanmean(np.vstack(curves), axis=0) if curves else grid * np.nan
        axis.step(grid, mean, where="post", label=name)
        persistence.extend(table["val_persistence"].dropna().tolist())
    if persistence:
        axis.axhline(float(np.mean(persistence)), color="grey", linestyle="--", label="persistence")
    axis.set_xlabel("GAN epochs spent")
    axis.set_ylabel(f"best {objective}")
    axis.set_title("Tuning progress (lower is better)")
    axis.legend()
    figure.tight_layout()
    return figure


def _load_state(folder: Path, session_id: str) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.exists():
        raise TrackingError(f"--resume {session_id}: no saved session state at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def run_session(
    config: ExperimentConfig,
    task: ForecastTask,
    recorder: Any,
    *,
    strategy: str | Strategy | None = None,
    episodes: int | None = None,
    executor: Executor | None = None,
    resume: str | None = None,
    quiet: bool = False,
) -> SessionResult:
    """Run (or resume) a tuning session of `episodes` episodes (default tuning.episodes) within the epoch
    budget (tuning.budget_epochs, default episodes x epochs per episode); returns every episode and the best.

    :param strategy: a name (rl, bo, random, pbt, fixed) or a Strategy; default tuning.strategy.
    :param executor: default: the one `executor.*` configures (closed at the end if created here).
    :param resume: a session id whose saved state is continued (see the module docstring).
    """
    config = absolute_paths(config)
    tuning = config.tuning
    name = _strategy_name(strategy, config)
    space = SearchSpace(tuning.space)
    if resume is not None:
        folder = sessions_dir(config) / resume
        state = _load_state(folder, resume)
        if strategy is not None and name != state["strategy"]:
            raise TuningError(
                f"--resume {resume}: the session ran strategy {state['strategy']!r}, not {name!r}"
            )
        name = state["strategy"]
        try:
            recorder.client.update_run(resume, status="RUNNING")
        except Exception as exc:
            raise TrackingError(f"--resume {resume}: no such session run in {recorder.uri} ({exc})") from None
        session_id = resume
    else:
        planned = episodes or tuning.episodes
        per_episode = tuning.epochs_per_episode or config.gan.epochs
        from gan_trader.tracking.store import STRATEGY_TAG

        session_id = recorder.start_session(
            f"{name}-session",
            params={
                "strategy": name,
                "episodes": planned,
                "epochs_per_episode": per_episode,
                "budget_epochs": tuning.budget_epochs or planned * per_episode,
                "seed": config.seed,
                "objective": tuning.objective,
                "executor": config.executor.kind,
                "workers": config.executor.workers,
            },
            tags={STRATEGY_TAG: name},
        )
        log.info("session %s (after a crash, continue it with --resume %s)", session_id, session_id)
        folder = sessions_dir(config) / session_id
        state = {
            "session_id": session_id,
            "experiment": recorder.experiment_name,
            "strategy": name,
            "planned_episodes": planned,
            "epochs_per_episode": per_episode,
            "budget_epochs": tuning.budget_epochs or planned * per_episode,
            "seed": config.seed,
            "next_index": 0,
            "episodes": {},
            "pending": {},
            "epochs_spent": 0,
            "stopped": False,
            "finished": False,
        }
        folder.mkdir(parents=True, exist_ok=True)
        recorder.log_text(session_id, json.dumps({"state_dir": str(folder)}), "session.json")
    seed = int(state["seed"])
    owns_executor = executor is None
    try:
        if isinstance(strategy, Strategy):
            strategy_obj = strategy
        else:
            strategy_obj = make_strategy(name, config, space, seed, quiet=quiet, task=task)
        if name == "pbt":
            return strategy_obj.drive(config, task, recorder, state, folder, quiet=quiet)  # type: ignore[attr-defined]
        executor = executor or make_executor(config)
        executor.bind(recorder)
        session = _Session(config, task, recorder, executor, strategy_obj, state, folder, quiet)
        rerun: list[EpisodeSpec] = []
        if resume is not None:
            strategy_obj.load(folder / "strategy")
            rerun = session.recover()
        elif tuning.warm_start:
            used = strategy_obj.warm_start(logged_observations(recorder, space, tuning.objective, session_id))
            if used:
                recorder.log_metrics(session_id, {"tune/warm_start_points": used})
        session.save()
        session.run(rerun)
        return session.close()
    except KeyboardInterrupt:
        recorder.finish(session_id, "KILLED", "interrupted; resume with --resume " + session_id)
        raise
    except BaseException as exc:
        recorder.finish(session_id, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if owns_executor and executor is not None:
            executor.close()
