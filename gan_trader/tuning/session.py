"""A tuning session: the strategy drives, the executor runs episodes, everything is logged and resumable.

The session is a parent run; its id is the session id. State lives in
`<tuning.sessions_dir or runs_dir/sessions>/<session id>/`: `state.json` (plan, finished episodes, the
episodes submitted but not finished, epochs spent) and `strategy/` (optimiser observations, RNG, pending
suggestions). Both are written atomically after every decision and every finished episode, with their
format version (io.SESSION_STATE_FORMAT, io.OPTIMIZER_STATE_FORMAT). Neither can be rebuilt, so on resume a
damaged one, or one of another version, stops with one line naming the file (DamagedFileError,
OutdatedFileError): start a new session then; the episodes logged so far stay in the store.

A strategy runs the session through `Strategy.drive`: a step-wise strategy through this module's episode
loop (`_Session.run_episodes`, the loop of loop.py with durable hooks), a strategy with its own scheduler
(pbt) however it likes, after which the session reads its episodes back from the store.

The reference set (the config's own hyperparameters) is episode 0 of every step-wise strategy but `fixed`
(whose every episode is the reference; pbt and pb2 start it as one of their trials); a reference outside the
search box is still trained and logged, with one line saying so. After the search the session races the
best sets against the reference on fresh seeds (racing.py, through the same loop; the epochs it needs are
held back from the search) and selects another set only when it beats the reference by more than one
standard error; the session's summary states the selection, its improvement over the reference on
validation and on the task's test days (one-sided DM on per-day CRPS), as metrics `select/*`, a line and
`selection.txt`. Every episode draws its seed from the session's own stream (loop.episode_seed).

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
from gan_trader.errors import DamagedFileError, TrackingError, TuningError
from gan_trader.io import SESSION_STATE_FORMAT, read_state, write_json
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import FAILED, FINISHED, KILLED, RUNNING, Recorder, RunRecord
from gan_trader.tracking.tags import BEST_EPISODE_TAG, BEST_RUN_TAG, STRATEGY_TAG
from gan_trader.tuning.agents import Policy, learn_from_session, load_or_train_policy
from gan_trader.tuning.bayes import logged_observations
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, logged_checkpoint
from gan_trader.tuning.executor import EpisodeJob, Executor, absolute_paths, check_address, make_executor
from gan_trader.tuning.loop import Action, EpisodeLoop, charge
from gan_trader.tuning.racing import RACE, RacedSet, RacingRun, Selection, raced_sets, racing_plan, select
from gan_trader.tuning.space import SearchSpace, outside_box
from gan_trader.tuning.strategies import EpisodeStrategy, Strategy, config_hyperparameters, strategy_class
from gan_trader.tuning.strategies.rl import RLStrategy

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted; re-run on resume"
STATE_FILE = "state.json"
# What state.json holds besides its format version; a file without one of these is damaged.
STATE_KEYS = (
    "session_id",
    "strategy",
    "planned_episodes",
    "epochs_per_episode",
    "budget_epochs",
    "seed",
    "next_index",
    "episodes",
    "pending",
    "epochs_spent",
    "stopped",
    "finished",
    "phase",
    "reserved",
    "racing",
)


@dataclass
class SessionResult:
    """The episodes of a session in index order, the best one, and the compute spent."""

    session_id: str
    strategy: str
    folder: Path
    objective: str
    episodes: list[EpisodeResult] = field(default_factory=list)
    epochs_spent: int = 0  # charged to the budget (loop.charge)
    selection: Selection | None = None

    @property
    def best(self) -> EpisodeResult | None:
        """The selected set's run with the best validation score (racing.Selection.best); without a
        selection, the episode with the best validation score."""
        if self.selection is not None:
            return self.selection.best
        finished = [e for e in self.episodes if e.ok and math.isfinite(e.objective(self.objective))]
        return min(finished, key=lambda e: e.objective(self.objective)) if finished else None

    def table(self) -> pd.DataFrame:
        """One row per episode: epochs trained and spent, the objective, the best so far, the test error at
        that best, its seed, and whether it is one of the runs the selected set and the reference set are
        judged on (racing.py)."""
        rows, spent, best, test_at_best = [], 0, math.inf, math.nan
        test_key = self.objective.replace("val/", "test/")
        selected = self.selection.selected_indices() if self.selection is not None else set()
        reference = {run.index for run in self.selection.reference.runs} if self.selection else set()
        for episode in self.episodes:
            spent += charge(episode)
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
                    "episode_seed": episode.seed,
                    "selected": episode.index in selected,
                    "reference_run": episode.index in reference,
                    "run_id": episode.run_id,
                    "reason": episode.reason,
                }
            )
        return pd.DataFrame(rows)


def sessions_dir(config: ExperimentConfig) -> Path:
    return Path(config.tuning.sessions_dir or config.runs_dir / "sessions")


def make_strategy(
    name: str,
    config: ExperimentConfig,
    space: SearchSpace,
    seed: int,
    *,
    quiet: bool = True,
    task: ForecastTask | None = None,
) -> Strategy:
    """The strategy registered under `name`; rl gets the saved policy, or one trained now in proxy mode."""
    cls = strategy_class(name)
    if cls is RLStrategy:
        policy = load_or_train_policy(config, task, space, quiet=quiet) if task is not None else None
        return RLStrategy(config, space, seed, policy)
    return cls(config, space, seed)


class _Session(EpisodeLoop):
    """One session: the episode loop with durable hooks, the executor, the recorder and the saved state."""

    def __init__(
        self,
        config: ExperimentConfig,
        task: ForecastTask,
        recorder: Recorder,
        strategy: Strategy,
        state: dict[str, Any],
        folder: Path,
        *,
        executor: Executor | None = None,
        resumed: bool = False,
        quiet: bool = False,
    ) -> None:
        space = SearchSpace(config.tuning.space)
        super().__init__(
            strategy,
            seed=int(state["seed"]),
            budget_epochs=int(state["budget_epochs"]),
            epochs_per_episode=int(state["epochs_per_episode"]),
            objective=config.tuning.objective,
            reward_mode=config.tuning.reward,
            checkpoint_root=folder / "episodes",
            stream=str(state["strategy"]),
            reference=config_hyperparameters(config, space.names) if strategy.trains_reference else None,
            reserved=int(state["reserved"]),
        )
        self.config, self.task, self.recorder = config, task, recorder
        self.strategy, self.state, self.folder = strategy, state, folder
        self.executor, self.owns_executor = executor, executor is None
        self.resumed, self.quiet = resumed, quiet
        self.history = [
            EpisodeResult.from_summary(s)
            for _, s in sorted(state["episodes"].items(), key=lambda i: int(i[0]))
        ]
        self.pending = {int(k): EpisodeSpec.from_dict(v) for k, v in state["pending"].items()}
        self.spent = int(state["epochs_spent"])
        self.next_index = int(state["next_index"])
        self.rerun: list[EpisodeSpec] = []  # interrupted episodes to run again first (resume)

    @property
    def session_id(self) -> str:
        return str(self.state["session_id"])

    @property
    def search_epochs(self) -> int:
        return self.budget_epochs - self.reserved

    def save(self) -> None:
        pending = {str(index): spec.to_dict() for index, spec in sorted(self.pending.items())}
        self.state.update(
            next_index=self.next_index, epochs_spent=self.spent, pending=pending, reserved=self.reserved
        )
        self.strategy.save(self.folder / "strategy")
        write_json(self.folder / STATE_FILE, self.state)

    def prepare(self) -> None:
        """Resumed: restore the strategy and recover what the killed process left. New: warm-start the
        strategy from the experiment's earlier episodes (tuning.warm_start)."""
        if self.resumed:
            self.strategy.load(self.folder / "strategy")
            self.rerun = self.recover()
            self.save()
            return
        reference = config_hyperparameters(self.config, SearchSpace(self.config.tuning.space).names)
        outside = outside_box(SearchSpace(self.config.tuning.space), reference)
        if outside:
            log.warning(
                "tuning.space: the reference set (the config's own hyperparameters) lies outside the search "
                "box (%s); it is still trained and logged",
                "; ".join(outside),
            )
        if self.config.tuning.warm_start:
            space = SearchSpace(self.config.tuning.space)
            earlier = logged_observations(self.recorder, space, self.objective, self.session_id)
            used = self.strategy.warm_start(earlier)
            if used:
                self.recorder.log_metrics(self.session_id, {"tune/warm_start_points": used})
        self.save()

    def recover(self) -> list[EpisodeSpec]:
        """Close runs the killed process left RUNNING, adopt episodes it finished, return specs to re-run."""
        logged: dict[int, RunRecord] = {}
        for run in self.recorder.runs(session=self.session_id):
            index = run.episode_index
            if run.status == RUNNING:
                self.recorder.finish(run.run_id, FAILED, INTERRUPTED)
            elif index in self.pending and run.status in (FINISHED, FAILED) and run.failure != INTERRUPTED:
                logged[index] = run
        for index, run in sorted(logged.items()):
            spec = self.pending[index]
            # The run names its checkpoint: a "keep" fetches it from the run when it is not on this disk.
            checkpoint = logged_checkpoint(run, spec.checkpoint_dir) if run.status == FINISHED else None
            self.finish_episode(EpisodeResult.from_run(run, spec, checkpoint))
            log.info("episode %d was logged before the kill; adopted, not re-run", index)
        return [spec for _, spec in sorted(self.pending.items())]

    # the per-episode loop --------------------------------------------------------------------------

    def run_episodes(self, strategy: EpisodeStrategy) -> list[EpisodeResult]:
        """Keep every executor slot busy with `strategy`'s next episode; record each as it finishes."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        executor = self._executor()
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, disable=self.quiet, transient=False) as progress:
            total = self.state["planned_episodes"]
            bar = progress.add_task(
                f"{strategy.name} episodes", total=total, completed=len(self.history), best="-"
            )
            while True:
                while executor.running < executor.slots:
                    spec = self.rerun.pop(0) if self.rerun else self.next_spec(strategy)
                    if spec is None:
                        break
                    self.submit(executor, spec)
                if executor.running == 0:
                    return self.history
                for result in executor.gather():
                    self.finish_episode(result)
                    progress.update(bar, advance=1, best=f"{self.best_objective():.5g}")

    def next_spec(self, strategy: EpisodeStrategy) -> EpisodeSpec | None:
        """The next planned episode, or None when the plan, the budget or the strategy says stop."""
        searching = self.state["phase"] == "search"
        if (searching and self.state["stopped"]) or self.next_index >= int(self.state["planned_episodes"]):
            return None
        if self.epochs_left <= 0:
            return None
        reference = self.reference_action() if searching else None
        action = reference or strategy.next_action(self.history, self.budget_left, pending=len(self.pending))
        if action.kind == "stop":
            self.state["stopped"] = True
            self.save()
            return None
        return self.plan_episode(action)

    def submit(self, executor: Executor, spec: EpisodeSpec) -> None:
        # Workers log where the session's recorder logs (it may differ from config.tracking).
        job = EpisodeJob(
            self.config,
            self.recorder.tracking,
            self.recorder.experiment_name,
            self.session_id,
            spec,
            self.config.executor.torch_threads,
        )
        executor.submit(job, self.task)

    def best_objective(self) -> float:
        return min((r.objective(self.objective) for r in self.history), default=math.inf)

    def on_planned(self, spec: EpisodeSpec) -> None:
        self.save()  # the decision is durable before the episode starts, so a kill re-runs the same spec

    def on_recorded(self, result: EpisodeResult) -> None:
        gain = result.reward if result.reward is not None else math.nan
        if result.run_id:
            self.recorder.log_metrics(result.run_id, {"tune/reward": gain})
        progress = {
            "tune/best_val": self.best_objective(),
            "tune/epochs_spent": self.spent,
            "tune/reward": gain,
            "tune/episode_val": result.objective(self.objective),
        }
        self.recorder.log_metrics(
            self.session_id, {k: v for k, v in progress.items() if math.isfinite(v)}, step=result.index
        )
        self.state["episodes"][str(result.index)] = result.summary()
        self.save()

    def _executor(self) -> Executor:
        if self.executor is None:
            self.executor = make_executor(self.config)
        self.executor.bind(self.recorder)
        return self.executor

    def release_executor(self) -> None:
        """Close the executor when the session made it."""
        if self.owns_executor and self.executor is not None:
            self.executor.close()

    # drivers with their own scheduler --------------------------------------------------------------

    def set_plan(self, episodes: int, epochs_per_episode: int) -> None:
        self.state.update(planned_episodes=episodes, epochs_per_episode=epochs_per_episode)
        self.epochs_per_episode, self.next_index = epochs_per_episode, episodes

    def logged_episodes(self) -> list[EpisodeResult]:
        space = SearchSpace(self.config.tuning.space)
        episodes = []
        for run in self.recorder.runs(session=self.session_id):
            logged = run.param_section("hp")
            try:
                hyperparameters = space.parse(logged)
            except Exception:
                hyperparameters = dict(logged)
            index = run.episode_index if run.episode_index is not None else -1
            spec = EpisodeSpec.from_run(run, hyperparameters, self.checkpoint_root / f"{index:03d}")
            episodes.append(EpisodeResult.from_run(run, spec))
        return sorted(episodes, key=lambda e: e.index)

    # racing --------------------------------------------------------------------------------------------

    def race(self, searched: list[EpisodeResult]) -> list[EpisodeResult]:
        """Race the search's best sets against the reference on fresh seeds (racing.py) through the episode
        loop; returns every episode. The plan is made once, when the search ends, and saved with the state."""
        if not self.strategy.races:
            return searched
        if self.state["phase"] == "search":
            if not isinstance(self.strategy, EpisodeStrategy):  # a driver of its own logged its episodes
                self.history = sorted(searched, key=lambda e: e.index)
                self.spent = sum(charge(e) for e in self.history)
            self.reserved = 0
            racing = self.config.tuning.racing
            plan = racing_plan(
                self.history,
                self.reference_set,
                objective=self.objective,
                candidates=racing.candidates,
                seeds=racing.seeds,
                episode_epochs=self.epochs_per_episode,
                epochs_left=self.epochs_left,
                reference_searched=self.strategy.trains_reference,
            )
            self.state.update(
                phase="racing",
                racing={"start": self.next_index, "runs": [run.to_dict() for run in plan]},
                planned_episodes=self.next_index + len(plan),
            )
            self.save()
        plan = [RacingRun.from_dict(run) for run in self.state["racing"]["runs"]]
        if plan:
            self.run_episodes(_Racing(self, plan, int(self.state["racing"]["start"])))
        return self.history

    @property
    def reference_set(self) -> dict[str, Any]:
        return config_hyperparameters(self.config, SearchSpace(self.config.tuning.space).names)

    def selection(self, episodes: list[EpisodeResult]) -> Selection:
        """What the session selects (racing.select): a racing strategy's reference and raced sets; for one
        that does not race (fixed), the reference with every episode."""
        if self.strategy.races:
            plan = [RacingRun.from_dict(run) for run in (self.state.get("racing") or {}).get("runs", [])]
            reference, candidates = raced_sets(episodes, plan, self.reference_set, self.epochs_per_episode)
        else:
            reference = RacedSet(0, self.reference_set, self.epochs_per_episode, None, list(episodes))
            candidates = []
        return select(reference, candidates, self.objective, self.task)

    # the end ---------------------------------------------------------------------------------------

    def learn_from_transitions(self, strategy: RLStrategy) -> None:
        """rl: log the session's transitions with its run (`transitions.json`; the strategy's state keeps the
        decisions for resume) and update the saved policy from them, once per session."""
        transitions = strategy.transitions(self.history, self.budget_left)
        if not transitions or "policy_update" in self.state:
            return
        self.recorder.log_dict(self.session_id, [t.to_dict() for t in transitions], "transitions.json")
        if not isinstance(strategy.policy, Policy) or self.config.tuning.agent.update_epochs == 0:
            log.info("rl policy: not updated (tuning.agent.update_epochs=0, or not a saved agent)")
            return
        update = learn_from_session(self.config, strategy.space, strategy.policy, transitions)
        self.state["policy_update"] = {
            "path": str(update.path),
            "transitions": update.transitions,
            "real_transitions": update.real_transitions,
        }
        self.save()  # a resumed session does not learn from the same transitions twice
        counts = {
            "tune/rl_transitions": update.transitions,
            "tune/rl_transitions_total": update.real_transitions,
            "tune/rl_sessions": update.sessions,
            "tune/rl_epsilon": strategy.policy.epsilon,
        }
        self.recorder.log_metrics(self.session_id, counts)
        message = (
            f"rl policy: learned from {update.transitions} transitions of this session "
            f"({update.real_transitions} real in total), saved to {update.path}"
        )
        if self.quiet:
            log.info(message)
        else:
            print(message)

    def close(self, history: list[EpisodeResult]) -> SessionResult:
        """Log the session's summary (best episode, episode table, progress plot), mark it finished."""
        episodes = sorted(history, key=lambda e: e.index)
        result = SessionResult(
            self.session_id,
            self.strategy.name,
            self.folder,
            self.objective,
            episodes,
            sum(charge(e) for e in episodes),
            self.selection(episodes),
        )
        best = result.best
        if best is not None:
            self.recorder.set_tags(self.session_id, {BEST_EPISODE_TAG: best.index, BEST_RUN_TAG: best.run_id})
            self.recorder.log_metrics(self.session_id, {f"best/{k}": v for k, v in best.metrics.items()})
        if result.selection is not None:
            line = f"{self.strategy.name} session: {result.selection.describe()}"
            self.recorder.log_metrics(self.session_id, result.selection.metrics())
            self.recorder.log_text(self.session_id, line + "\n", "selection.txt")
            if self.quiet:
                log.info(line)
            else:
                print(line)
        table = result.table()
        if not table.empty:
            self.recorder.log_table(self.session_id, table, "episodes.csv")
            figure = progress_figure({self.strategy.name: table}, self.objective)
            self.recorder.log_figure(self.session_id, figure, "plots/tuning_progress.png")
        self.history, self.spent = episodes, result.epochs_spent
        if isinstance(self.strategy, RLStrategy):
            self.learn_from_transitions(self.strategy)
        self.state["finished"] = True
        self.save()
        self.recorder.finish(self.session_id, FINISHED)
        return result


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
    """The saved state of a session; one-line errors naming the file when it is missing, damaged (it cannot
    be rebuilt: the plan and the optimiser's decisions live only there) or of another format version."""
    path = folder / STATE_FILE
    if not path.exists():
        raise TrackingError(f"--resume {session_id}: no saved session state at {path}")
    remedy = (
        f"session {session_id} cannot be resumed; start a new session (its logged episodes stay in the store)"
    )
    state = read_state(path, "session state", SESSION_STATE_FORMAT, remedy)
    try:
        missing = next((key for key in STATE_KEYS if key not in state), None)
        if missing is not None:
            raise KeyError(missing)
        for summary in state["episodes"].values():
            EpisodeResult.from_summary(summary)
        for spec in state["pending"].values():
            EpisodeSpec.from_dict(spec)
        for key in ("planned_episodes", "epochs_per_episode", "budget_epochs", "seed", "next_index"):
            int(state[key])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DamagedFileError(
            f"{path}: damaged session state ({type(exc).__name__}: {exc}); {remedy}"
        ) from None
    return state


def _new_state(
    config: ExperimentConfig, recorder: Recorder, strategy: Strategy, planned: int
) -> dict[str, Any]:
    """Open the session run and its state folder; the state of a session that has run nothing yet. The
    budget: tuning.budget_epochs, or the planned episodes' epochs plus the racing's (a racing strategy holds
    those back from its search)."""
    name = strategy.name
    tuning = config.tuning
    per_episode = tuning.epochs_per_episode or config.gan.epochs
    reserved = tuning.racing_epochs(per_episode) if strategy.races else 0
    budget = tuning.budget_epochs or planned * per_episode + reserved
    session_id = recorder.start_session(
        f"{name}-session",
        params={
            "strategy": name,
            "episodes": planned,
            "epochs_per_episode": per_episode,
            "budget_epochs": budget,
            "seed": config.seed,
            "objective": tuning.objective,
            "executor": config.executor.kind,
            "workers": config.executor.workers,
        },
        tags={STRATEGY_TAG: name},
    )
    log.info("session %s (after a crash, continue it with --resume %s)", session_id, session_id)
    folder = sessions_dir(config) / session_id
    folder.mkdir(parents=True, exist_ok=True)
    recorder.log_text(session_id, json.dumps({"state_dir": str(folder)}), "session.json")
    return {
        "format": SESSION_STATE_FORMAT,
        "session_id": session_id,
        "experiment": recorder.experiment_name,
        "strategy": name,
        "planned_episodes": planned,
        "epochs_per_episode": per_episode,
        "budget_epochs": budget,
        "seed": config.seed,
        "phase": "search",
        "reserved": reserved,
        "racing": None,
        "next_index": 0,
        "episodes": {},
        "pending": {},
        "epochs_spent": 0,
        "stopped": False,
        "finished": False,
    }


def _saved_state(config: ExperimentConfig, resume: str, strategy: str | None) -> dict[str, Any]:
    """The saved state of session `resume`, checked against the strategy asked for (if any)."""
    state = _load_state(sessions_dir(config) / resume, resume)
    if strategy is not None and strategy != state["strategy"]:
        raise TuningError(
            f"--resume {resume}: the session ran strategy {state['strategy']!r}, not {strategy!r}"
        )
    return state


def _reopen(recorder: Recorder, resume: str) -> None:
    """Mark the run of session `resume` RUNNING again."""
    try:
        recorder.reopen(resume)
    except TrackingError as exc:
        raise TrackingError(f"--resume {resume}: no such session run ({exc})") from None


def _saved_strategy(
    config: ExperimentConfig, task: ForecastTask, name: str, saved: dict[str, Any] | None, quiet: bool
) -> Strategy:
    """The strategy `name` of a new session, or the one a resumed session (`saved`) ran, with its seed."""
    chosen, seed = (name, config.seed) if saved is None else (saved["strategy"], int(saved["seed"]))
    return make_strategy(chosen, config, SearchSpace(config.tuning.space), seed, quiet=quiet, task=task)


def _check_cluster(config: ExperimentConfig, strategy: Strategy, executor: Executor | None) -> None:
    """Stop (TuningError) before the session run is opened or reopened when the Ray cluster the session
    would use (`executor.ray_address`) does not answer or refuses this machine's token, so that a bad
    address or token leaves nothing logged. Strategies with their own scheduler (pbt, pb2: Ray Tune) always
    use it; step-wise ones when the session makes a Ray executor."""
    settings = config.executor
    own_scheduler = not isinstance(strategy, EpisodeStrategy)
    if settings.ray_address and (own_scheduler or (executor is None and settings.kind == "ray")):
        check_address(settings.ray_address, settings.connect_timeout_s)


def run_session(
    config: ExperimentConfig,
    task: ForecastTask,
    recorder: Recorder,
    *,
    strategy: str | Strategy | None = None,
    episodes: int | None = None,
    executor: Executor | None = None,
    resume: str | None = None,
    quiet: bool = False,
) -> SessionResult:
    """Run (or resume) a tuning session of `episodes` episodes (default tuning.episodes) within the epoch
    budget (tuning.budget_epochs, default episodes x epochs per episode); returns every episode and the best.

    :param strategy: a name (strategies.ALL_STRATEGIES) or a Strategy; default tuning.strategy.
    :param executor: default: the one `executor.*` configures (closed at the end if created here).
    :param resume: a session id whose saved state is continued (see the module docstring).
    """
    config = absolute_paths(config)
    name = strategy.name if isinstance(strategy, Strategy) else strategy or config.tuning.strategy
    saved = None if resume is None else _saved_state(config, resume, name if strategy is not None else None)
    # The strategy and the cluster are checked before the session run is opened: their errors log nothing.
    if not isinstance(strategy, Strategy):
        strategy = _saved_strategy(config, task, name, saved, quiet)
    _check_cluster(config, strategy, executor)
    if resume is None or saved is None:
        state = _new_state(config, recorder, strategy, episodes or config.tuning.episodes)
    else:
        _reopen(recorder, resume)
        state = saved
    session_id = str(state["session_id"])
    session: _Session | None = None
    try:
        folder = sessions_dir(config) / session_id
        session = _Session(
            config,
            task,
            recorder,
            strategy,
            state,
            folder,
            executor=executor,
            resumed=resume is not None,
            quiet=quiet,
        )
        session.prepare()
        return session.close(session.race(strategy.drive(session)))
    except KeyboardInterrupt:
        recorder.finish(session_id, KILLED, "interrupted; resume with --resume " + session_id)
        raise
    except BaseException as exc:
        recorder.finish(session_id, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if session is not None:
            session.release_executor()


class _Racing(EpisodeStrategy):
    """The racing phase as a step-wise strategy: the planned racing runs, in order (racing.py)."""

    name = RACE
    trains_reference = False
    races = False

    def __init__(self, session: _Session, plan: list[RacingRun], start: int) -> None:
        super().__init__(session.config, SearchSpace(session.config.tuning.space), session.seed)
        self.session, self.plan, self.start = session, plan, start

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        run = self.plan[self.session.next_index - self.start]
        return Action(
            "new",
            dict(run.hyperparameters),
            source=RACE,
            label=RACE,
            epochs=run.epochs,
            extra={"raced": run.raced, "racing_set": run.position},
        )
