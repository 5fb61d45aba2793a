"""Training: updaters, the trainer with triggers and extensions, checkpoints."""

from seqkit.training.checkpoints import CheckpointError, latest_good, load_checkpoint, save_checkpoint
from seqkit.training.extensions import (
    Accumulate,
    BleuEvaluator,
    Evaluator,
    LogReport,
    ProgressBar,
    ReportToSchedule,
    Snapshot,
)
from seqkit.training.trainer import (
    EarlyStopping,
    Extension,
    Interrupted,
    IntervalTrigger,
    Trainer,
    TrainingDiverged,
)
from seqkit.training.updaters import (
    AccumulateOptions,
    AccumulateUpdater,
    LossScaler,
    StandardUpdater,
    Updater,
)

__all__ = [
    "Accumulate", "AccumulateOptions", "AccumulateUpdater", "BleuEvaluator", "CheckpointError", "EarlyStopping",
    "Evaluator", "Extension", "IntervalTrigger", "Interrupted", "LogReport", "LossScaler", "ProgressBar",
    "ReportToSchedule", "Snapshot", "StandardUpdater", "Trainer", "TrainingDiverged", "Updater", "latest_good",
    "load_checkpoint", "save_checkpoint",
]  # fmt: skip
