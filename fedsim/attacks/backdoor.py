"""Backdoor trigger: a bright square in the bottom-right corner that should map any image to
`attack.target_label`; and the attack success rate measured on clean held-out images."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fedsim.config import AttackSection, Config
from fedsim.data import ArrayDataset
from fedsim.tasks.inference import batched

SUCCESS_KEY = "backdoor_success"


def stamp(x: np.ndarray, attack: AttackSection) -> np.ndarray:
    """A copy of images `x` [N, C, H, W] with the trigger square stamped on every channel."""
    out = np.array(x, dtype=np.float32, copy=True)
    k = attack.trigger_size
    out[:, :, -k:, -k:] = attack.trigger_value
    return out


def backdoor_success(model: nn.Module, data: ArrayDataset, attack: AttackSection) -> float:
    """Share of `data`'s images not of the target class that the model puts in the target
    class once the trigger is stamped on them (nan when there are none)."""
    keep = np.asarray(data.y) != attack.target_label
    if not keep.any():
        return float("nan")
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = batched(model, stamp(data.x[keep], attack), device)
    return float((logits.argmax(1) == attack.target_label).float().mean())


def attack_metrics(cfg: Config, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
    """Extra evaluation metrics of the configured attack ({} when it has none)."""
    if cfg.attack.behaviour != "backdoor":
        return {}
    return {SUCCESS_KEY: backdoor_success(model, data, cfg.attack)}
