"""Membership inference on one client's update, by an honest-but-curious server.

The server sent the global weights w and got back client k's weights w_k. Training lowers
the loss of the examples it used, so the score of x is loss(w; x) - loss(w_k; x): the loss
drop the update brings (higher = more likely in client k's data).

Under SecAgg+ the server got masked, quantized integer vectors instead of w_k. The attack
then runs on exactly that: the vectors are read back as weights the only way a server could
(the inverse of SecAgg+'s quantization of the received integers, ignoring the masks it
cannot remove). The masks are uniform over the whole integer range, so the result is noise.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fedsim.attacks.scores import loss_scores
from fedsim.data import ArrayDataset
from fedsim.tasks import Task

State = dict[str, torch.Tensor]


def loss_drop_scores(task: Task, model: nn.Module, before: State, received: State,
                     data: ArrayDataset, reference: ArrayDataset) -> np.ndarray:
    """loss(before; x) - loss(received; x) for each example of `data` (`model` is reused)."""
    model.load_state_dict(before)
    score_before = loss_scores(task, model, data, reference)
    model.load_state_dict(received)
    return loss_scores(task, model, data, reference) - score_before


def masked_as_weights(masked: list[np.ndarray], template: State, clipping_range: float,
                      quantization_range: int) -> State:
    """The weights a server would read from one client's SecAgg+ masked vectors.

    Flower's client sends [weight factor, *quantized parameters] (each parameter shifted by
    the clipping range and scaled to 0..quantization_range - 1, then masked mod 2^32); this
    undoes the quantization of every parameter array and keeps the template's dtypes.
    """
    step = 2 * clipping_range / quantization_range  # flwr quantize: (x + c) * Q / (2c)
    params = masked[-len(template):]
    return {name: torch.from_numpy(vec.astype(np.float64) * step - clipping_range)
            .reshape(tensor.shape).to(tensor.dtype)
            for (name, tensor), vec in zip(template.items(), params, strict=True)}
