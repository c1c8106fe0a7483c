"""Tag keys of the runs gan-trader logs: one name per meaning, used by writers and readers alike."""

KIND_TAG = "gan_trader.kind"  # session | episode | compare
SESSION_TAG = "gan_trader.session"  # an episode's session run id
EPISODE_TAG = "gan_trader.episode"  # an episode's index in its session
FAILURE_TAG = "gan_trader.failure"  # why a run ended FAILED or KILLED
FORMAT_TAG = "gan_trader.format"  # the format version (io.RUN_FORMAT) of what the run logged
CONFIG_TAG = "gan_trader.config"
STRATEGY_TAG = "gan_trader.strategy"
ACTION_TAG = "gan_trader.action"  # what the controller decided for an episode (new, keep, pbt...)
BEST_EPISODE_TAG = "gan_trader.best_episode"  # a session's best episode: its index
BEST_RUN_TAG = "gan_trader.best_run"  # a session's best episode: its run id
VERDICT_TAG = "gan_trader.verdict"  # the leaderboard's one-line verdict
PARENT_TAG = "mlflow.parentRunId"
NAME_TAG = "mlflow.runName"
NODE_TAG = "gan_trader.node"  # the machine (and Ray node) an episode ran on
DEVICE_TAG = "gan_trader.device"  # the device an episode trained on (and the GPUs Ray assigned it)
# A study (kind "study") and its cells (kind "cell", nested runs of the study; SESSION_TAG is the study's id,
# EPISODE_TAG the cell's index in the grid).
CELL_TAG = "gan_trader.cell"  # a cell's key: TARGET/FEATURE_SET/MODEL/SEED
DIGEST_TAG = "gan_trader.digest"  # what a cell's result depends on (study.digest): resume re-runs another
TARGET_TAG = "gan_trader.target"
FEATURE_SET_TAG = "gan_trader.feature_set"
MODEL_TAG = "gan_trader.model"
SEED_TAG = "gan_trader.seed"
MISSING_TAG = "gan_trader.missing_members"  # the feature members the cell's target could not have
