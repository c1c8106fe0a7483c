"""Studies: the seed's hypothesis answered across feature groups, models and assets.

A study is a grid of targets x feature sets x models x seeds over one experiment's walk-forward folds
(`spec.py`, the study file); each cell runs as a job (`jobs.py`, `cells.py`) and is logged as a child run of
one study run (`runner.py`); the tables are computed from the logged cells' per-day scores
(`results.py` over `gan_trader.evaluation.study`).

The Python API, for notebooks:

    from gan_trader.workflow.study import load_study, run_study, open_study
    study = load_study("experiments/feature_study.yaml", quick=True)
    run = run_study(study)       # as `gan-trader study experiments/feature_study.yaml --quick`
    results = open_study("feature_study")         # the newest finished study of that name, from MLflow
    results.summary()    # crps_rel mean and sd over seeds x folds per (target, feature set, model), pooled
    results.tests()      # one-sided DM on seed-averaged per-day CRPS, Holm across the feature sets
    results.mcs()        # model confidence set per target
    results.per_day("MSFT")    # per-day CRPS by feature set/model
    results.heatmap()    # a matplotlib Figure
"""

from gan_trader.workflow.study.results import StudyResults, open_study, study_results
from gan_trader.workflow.study.runner import StudyRun, run_study
from gan_trader.workflow.study.spec import GROUPS, Cell, Study, load_study

__all__ = [
    "GROUPS",
    "Cell",
    "Study",
    "StudyResults",
    "StudyRun",
    "load_study",
    "open_study",
    "run_study",
    "study_results",
]
