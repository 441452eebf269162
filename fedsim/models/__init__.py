"""Model architectures, selected by ``task.model``."""

from fedsim.models.cnn import MODELS, SmallCNN, SmallMLP
from fedsim.models.lenet import LeNetSigmoid  # registers lenet_sigmoid

__all__ = ["MODELS", "LeNetSigmoid", "SmallCNN", "SmallMLP"]
