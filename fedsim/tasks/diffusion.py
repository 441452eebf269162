"""Diffusion: clients train a DDPM noise-prediction UNet on their private image shards.

Training (Ho et al. 2020): images scaled to [-1, 1], t ~ U{0..T-1}, eps ~ N(0, I),
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, loss ||eps - eps_theta(x_t, t)||^2 (mean
over pixels per image, `fedsim.losses.ddpm_mse`). t and eps are drawn from a generator
seeded from the client's batch generator, so runs repeat exactly. A conditional model sees
the class label, dropped to "no class" for a `task.cond_dropout` share of examples
(classifier-free guidance). The schedule is not part of the model and never crosses the wire.

Metrics: `evaluate` is cheap (it runs every round): the denoising loss on a fixed seeded
subset of `task.eval_examples` images, each noised once at a seeded t inside each of
EVAL_BUCKETS equal t-ranges: `loss` (mean) and `loss_t<lo>_<hi>` per range. Sampling, the
Frechet distance and sample grids run every `task.sample_every` rounds (`diffusion_outputs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fedsim.config import ClientSection, Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.diffusion.schedule import NoiseSchedule
from fedsim.errors import ConfigError
from fedsim.losses import ddpm_mse
from fedsim.models.unet import DIFFUSION_MODELS, DOWNSAMPLING
from fedsim.tasks.base import Artifact, TrainResult
from fedsim.tasks.local_sgd import LocalSGDTraining
from fedsim.tasks.registry import TASKS

LOSS = "ddpm_mse"
EVAL_BUCKETS = 4
MIA_TIMESTEPS = 8  # per-example loss: mean over this many fixed t (and seeded noise draws)
EVAL_SEED = 2020  # fixed: the evaluation subset, t and noise are the same in every run
CHUNK = 256


def resolve_diffusion(cfg: Config) -> Config:
    """For ``task.name = 'diffusion'``, the image-task defaults (model 'cnn', loss
    'cross_entropy') become 'unet' and 'ddpm_mse', so the resolved config names what trains."""
    if cfg.task.name != "diffusion":
        return cfg
    model = "unet" if cfg.task.model == "cnn" else cfg.task.model
    loss = LOSS if cfg.task.loss == "cross_entropy" else cfg.task.loss
    return dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, model=model, loss=loss))


def check_diffusion_config(cfg: Config, data: FederatedData) -> None:
    """ConfigError naming the key when `cfg` cannot train a diffusion model on `data`."""
    task = cfg.task
    if data.words:
        raise ConfigError("data.dataset", f"diffusion generates images; {data.name!r} is text")
    if task.model not in DIFFUSION_MODELS:
        raise ConfigError("task.model", f"{task.model!r} is not a noise-prediction network; "
                          f"allowed: {', '.join(DIFFUSION_MODELS.names())}")
    if task.loss not in (LOSS, "cross_entropy"):
        raise ConfigError("task.loss", f"diffusion trains with {LOSS!r}, got {task.loss!r}")
    if task.miner != "none":
        raise ConfigError("task.miner", f"diffusion mines no negatives; set 'none', got "
                          f"{task.miner!r}")
    if task.sample_steps > task.diffusion_steps:
        raise ConfigError("task.sample_steps", f"{task.sample_steps} DDIM steps exceed "
                          f"task.diffusion_steps = {task.diffusion_steps}; allowed: 1 to "
                          f"{task.diffusion_steps}")
    _, height, width = data.image_shape
    if height % DOWNSAMPLING or width % DOWNSAMPLING:
        raise ConfigError("data.dataset", f"the UNet halves images twice: sides must be "
                          f"multiples of {DOWNSAMPLING}, {data.name!r} has {height}x{width}")


def content_noise(image: torch.Tensor, draws: int) -> torch.Tensor:
    """[draws, *image.shape] standard normal noise seeded by EVAL_SEED and the image's bytes."""
    digest = hashlib.sha256(image.float().numpy().tobytes()).digest()
    seed = (int.from_bytes(digest[:8], "little") ^ EVAL_SEED) % 2**63
    return torch.randn((draws, *image.shape), generator=torch.Generator().manual_seed(seed))


def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] (the data's range) -> [-1, 1] (the diffusion model's)."""
    return 2 * x - 1


class DiffusionTask(LocalSGDTraining):
    """DDPM on image shards; metrics: held-out denoising loss, Frechet distance of samples."""

    name = "diffusion"

    def __init__(self, cfg: Config, data: FederatedData) -> None:
        check_diffusion_config(cfg, data)
        self.cfg, self.data = cfg, data
        self.schedule = NoiseSchedule.build(cfg.task.diffusion_steps, cfg.task.beta_schedule)
        self._factory = DIFFUSION_MODELS.get(cfg.task.model)
        self._noise = torch.Generator().manual_seed(cfg.run.seed)
        self.history: list[dict[str, Any]] = []  # round metrics of sampled rounds

    def build_model(self) -> nn.Module:
        """A freshly initialised noise-prediction network."""
        t, d = self.cfg.task, self.data
        return self._factory(d.image_shape, d.num_classes, t.width, t.conditional)

    def labels(self, y: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor | None:
        """What the model is told about the class: None (unconditional), else `y` with the
        examples flagged in `drop` set to the "no class" label."""
        if not self.cfg.task.conditional:
            return None
        return y if drop is None else torch.where(drop, self.data.num_classes, y)

    def denoising_losses(self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None,
                         t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """[N] ||eps - eps_theta(x_t, t)||^2 per image (x in [0, 1])."""
        device = next(model.parameters()).device
        x0, t, noise = to_model_range(x.to(device)), t.to(device), noise.to(device)
        labels = None if labels is None else labels.to(device)
        return ddpm_mse(model(self.schedule.q_sample(x0, t, noise), t, labels), noise, "none")

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean of per-example denoising losses at random t, eps (from the round's generator)."""
        n, g = len(x), self._noise
        t = torch.randint(0, self.schedule.steps, (n,), generator=g)
        noise = torch.randn(x.shape, generator=g)
        drop = torch.rand(n, generator=g) < self.cfg.task.cond_dropout
        return self.denoising_losses(model, x, self.labels(y.cpu(), drop), t, noise).mean()

    def train(self, model: nn.Module, shard: ArrayDataset, client: ClientSection,
              generator: torch.Generator, proximal_mu: float = 0.0) -> TrainResult:
        """Local SGD on the denoising loss; t and eps come from a generator seeded from
        `generator` (so a client's round is reproducible)."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        self._noise = torch.Generator().manual_seed(seed)
        return super().train(model, shard, client, generator, proximal_mu)

    @torch.no_grad()
    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[N] denoising loss of each image averaged over MIA_TIMESTEPS fixed, evenly spaced t,
        each with its own noise draw seeded by the image's content: an image scores the same
        in any batch, on every call (what membership inference needs)."""
        model.eval()
        x, steps = x.detach().cpu(), self.schedule.steps
        t = torch.tensor([(2 * k + 1) * steps // (2 * MIA_TIMESTEPS) for k in range(MIA_TIMESTEPS)])
        noise = torch.stack([content_noise(image, MIA_TIMESTEPS) for image in x], dim=1)
        total = torch.zeros(len(x))
        for k in range(MIA_TIMESTEPS):
            t_k = t[k].expand(len(x))
            total += self.denoising_losses(model, x, self.labels(y.cpu()), t_k, noise[k]).cpu()
        return total / MIA_TIMESTEPS

    def eval_subset(self, data: ArrayDataset) -> ArrayDataset:
        """The fixed seeded subset of `data` that `evaluate` scores."""
        order = np.random.default_rng(EVAL_SEED).permutation(len(data))
        return data.subset(np.sort(order[: self.cfg.task.eval_examples]))

    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """Denoising loss on the eval subset: mean ("loss") and per t-range ("loss_t<lo>_<hi>")."""
        model.eval()
        subset = self.eval_subset(data)
        x, y = torch.from_numpy(np.array(subset.x)), torch.from_numpy(np.array(subset.y))
        g = torch.Generator().manual_seed(EVAL_SEED)
        metrics, steps = {}, self.schedule.steps
        for b in range(EVAL_BUCKETS):
            lo, hi = b * steps // EVAL_BUCKETS, (b + 1) * steps // EVAL_BUCKETS
            t = torch.randint(lo, hi, (len(x),), generator=g)
            noise = torch.randn(x.shape, generator=g)
            losses = [self.denoising_losses(model, x[s : s + CHUNK], self.labels(y[s : s + CHUNK]),
                                            t[s : s + CHUNK], noise[s : s + CHUNK])
                      for s in range(0, len(x), CHUNK)]
            metrics[f"loss_t{lo}_{hi - 1}"] = float(torch.cat(losses).mean()) if len(x) else 0.0
        return {"loss": sum(metrics.values()) / EVAL_BUCKETS, **metrics}

    def round_metrics(self, model: nn.Module, server_round: int, run_dir: Path,
                      writer: Any = None) -> dict[str, float]:
        """Every `task.sample_every` rounds (and the last): sample grid + Frechet distance."""
        from fedsim.tasks.diffusion_outputs import sample_round  # imports scipy, PIL

        return sample_round(self, model, server_round, run_dir, writer)

    def write_artifacts(self, model: nn.Module, data: FederatedData,
                        run_dir: Path) -> list[Artifact]:
        """Final sample grid, Frechet-per-round table, optional DDPM vs DDIM comparison."""
        from fedsim.tasks.diffusion_outputs import write_diffusion_outputs

        return write_diffusion_outputs(self, model, run_dir)


TASKS.register("diffusion")(DiffusionTask)
