"""MIMO training: config, stages, objectives, balanced sampling, checkpoint/resume, model card."""

from mimo.train.config import TrainConfig
from mimo.train.loop import StepInfo, TrainingInterrupted, TrainResult, heldout_figures, train

__all__ = ["StepInfo", "TrainConfig", "TrainResult", "TrainingInterrupted", "heldout_figures", "train"]
