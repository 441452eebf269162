"""The noise-prediction network of the diffusion task: diffusers' UNet2DModel, sized for CPU.

Three resolution levels with `width`, 2 x `width`, 4 x `width` channels, one ResNet block per
level, self-attention at the coarsest level (7 x 7 for 28 x 28 images), GroupNorm throughout
(no running statistics; per-example gradients stay independent for DP-SGD). The model holds
weights only: the noise schedule lives in `fedsim.diffusion.schedule`, outside the module.
A class-conditional model has one extra class embedding, the "no class" label that
classifier-free guidance trains with (label dropout) and samples against.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from fedsim.errors import ConfigError
from fedsim.models.cnn import MODELS
from fedsim.registry import Registry

# (image_shape, num_classes, width, conditional) -> eps_theta(x_t, t, labels)
DiffusionModelFactory = Callable[[tuple[int, int, int], int, int, bool], nn.Module]
DIFFUSION_MODELS: Registry[DiffusionModelFactory] = Registry("diffusion model", "task.model")
DOWNSAMPLING = 4  # two 2x downsamplings: image sides must be multiples of 4


class DiffusionUNet(nn.Module):
    """eps_theta(x_t, t[, class]): predicts the noise in x_t at integer timesteps t."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 16,
                 conditional: bool = False) -> None:
        super().__init__()
        from diffusers import UNet2DModel  # slow import: only when used

        channels, height, _ = image_shape
        self.null_class = num_classes if conditional else None
        self.unet = UNet2DModel(
            sample_size=height, in_channels=channels, out_channels=channels,
            block_out_channels=(width, 2 * width, 4 * width), layers_per_block=1,
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
            norm_num_groups=math.gcd(width, 8), attention_head_dim=min(8, 4 * width),
            num_class_embeds=num_classes + 1 if conditional else None,
        )  # fmt: skip

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise, shaped like `x`; `labels` (int64 [N]) only for conditional models."""
        return self.unet(x, t, class_labels=labels).sample


DIFFUSION_MODELS.register("unet")(DiffusionUNet)


def _diffusion_only(name: str) -> Callable[..., nn.Module]:
    """A MODELS entry for a diffusion network: other tasks that pick it get a clear error."""

    def refuse(*args: object, **kwargs: object) -> nn.Module:
        others = ", ".join(n for n in MODELS.names() if n not in DIFFUSION_MODELS)
        raise ConfigError("task.model", f"{name!r} is a noise-prediction network for task "
                          f"'diffusion'; other models: {others}")

    return refuse


for _name in DIFFUSION_MODELS.names():  # `fedsim list` and the name check see them too
    MODELS.register(_name)(_diffusion_only(_name))
