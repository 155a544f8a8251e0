"""MIMO training: config, stages, objectives, balanced sampling, checkpoint/resume, model card."""

from mimo.train.config import TrainConfig
from mimo.train.loop import StepInfo, TrainingInterrupted, TrainResult, alignment, train

__all__ = ["StepInfo", "TrainConfig", "TrainResult", "TrainingInterrupted", "alignment", "train"]
