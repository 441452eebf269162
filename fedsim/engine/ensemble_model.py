"""The "never aggregate" global model: an ensemble of independently trained client models.

Its state dict is the clients' models stacked under ``members.<i>.`` (node-id order), so an
ensemble travels as one ArrayRecord and is saved as one weights.safetensors. Every task's
evaluate() works on it unchanged, because the wrapper answers what tasks call:

- ``forward``: classify and nextword (class / next-word distributions) -> log of the mean of
  the members' softmax (so argmax, cross-entropy and perplexity score the averaged
  distribution); every other task (metric embeddings, diffusion eps, ...) -> mean output.
- ``embed`` / ``head`` (classify): ``embed`` concatenates the members' features, ``head``
  splits them back and combines the members' heads as ``forward`` does.
- any other method a task calls (e.g. CLIP's encode_image): the mean of the members' outputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

PREFIX = "members."
PROBABILITY_TASKS = ("classify", "nextword")  # members' outputs are logits: average softmax


def log_mean_softmax(outputs: list[torch.Tensor]) -> torch.Tensor:
    """log(mean_i softmax(outputs_i)) over the last dimension, computed stably."""
    logp = torch.stack([torch.log_softmax(o, dim=-1) for o in outputs])
    return torch.logsumexp(logp, dim=0) - math.log(len(outputs))


def mean_output(outputs: list[torch.Tensor]) -> torch.Tensor:
    """The element-wise mean of the members' outputs."""
    return torch.stack(outputs).mean(dim=0)


class EnsembleModel(nn.Module):
    """Members' predictions combined; see the module docstring for what each call returns."""

    def __init__(self, members: list[nn.Module], combine: Callable[[list[torch.Tensor]],
                                                                    torch.Tensor]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.combine = combine

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The combined prediction of every member."""
        return self.combine([m(*args, **kwargs) for m in self.members])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The members' penultimate features side by side ([N, members x features])."""
        return torch.cat([m.embed(x) for m in self.members], dim=-1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Each member's head on its own slice of `features`, combined."""
        parts = features.chunk(len(self.members), dim=-1)
        return self.combine([m.head(p) for m, p in zip(self.members, parts, strict=True)])

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            members = super().__getattr__("members")
            value = getattr(members[0], name)
            if not callable(value) or isinstance(value, nn.Module):
                return value

            def averaged(*args: Any, **kwargs: Any) -> torch.Tensor:
                return mean_output([getattr(m, name)(*args, **kwargs) for m in members])

            return averaged


def is_stacked(state: dict[str, torch.Tensor]) -> bool:
    """True when `state` holds stacked member models (an ensemble), not one model."""
    return bool(state) and all(k.startswith(PREFIX) for k in state)


def stacked_count(state: dict[str, torch.Tensor]) -> int:
    """How many members a stacked state dict holds."""
    return len({k[len(PREFIX):].split(".", 1)[0] for k in state})


def global_model(template: nn.Module, state: dict[str, torch.Tensor], task: str) -> nn.Module:
    """The model a global state stands for: `template` loaded with it, or, for stacked member
    states, an EnsembleModel of copies of `template` (combined as `task` needs)."""
    if not is_stacked(state):
        template.load_state_dict(state)
        return template
    combine = log_mean_softmax if task in PROBABILITY_TASKS else mean_output
    members = [copy.deepcopy(template) for _ in range(stacked_count(state))]
    model = EnsembleModel(members, combine)
    model.load_state_dict(state)
    return model
