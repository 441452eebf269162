"""Model architectures, selected by ``task.model``."""

from fedsim.models.cnn import MODELS, SmallCNN, SmallMLP

__all__ = ["MODELS", "SmallCNN", "SmallMLP"]
