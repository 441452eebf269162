"""What the diffusion task shows: sample grids, Frechet distances, sampler comparison.

Every `task.sample_every` rounds (and at the last) the server samples `task.num_samples`
images from the global model with the configured sampler, always from the same seeded noise
(grids of different rounds are comparable), saves an 8-column grid (samples/round_NNN.png,
TensorBoard image "samples") and measures the Frechet distance of their classifier features
to the test set's (`fedsim.diffusion.frechet`; the classifier is `feature_net`'s, not
Inception). A conditional model is asked for classes 0, 1, 2, ... in turn; the classifier's
accuracy on those images is `class_accuracy`.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fedsim.diffusion.feature_net import feature_classifier
from fedsim.diffusion.frechet import FeatureStats, frechet_distance
from fedsim.diffusion.grid import image_grid, save_grid
from fedsim.diffusion.sampling import Condition, generate
from fedsim.tasks.base import Artifact
from fedsim.tasks.inference import batched

GRID_IMAGES = 64
SAMPLE_SEED = 4242  # + run seed: the same starting noise at every sampled round
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Judge:
    """The feature classifier, its test accuracy, and the test set's feature statistics."""

    classifier: nn.Module
    test_accuracy: float
    test_stats: FeatureStats

    @torch.no_grad()
    def score(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Frechet distance of `images` to the test set; class accuracy if `labels`."""
        features = batched(self.classifier.embed, images.numpy(), CPU)
        metrics = {"frechet": frechet_distance(FeatureStats.of(features.numpy()), self.test_stats)}
        if labels is not None:
            predicted = self.classifier.head(features).argmax(1)
            metrics["class_accuracy"] = float((predicted == labels).float().mean())
        return metrics


def judge(task: Any) -> Judge:
    """The task's Judge, built on first use (trains or loads the cached classifier)."""
    if getattr(task, "_judge", None) is None:
        classifier, accuracy = feature_classifier(task.data)
        test = batched(classifier.embed, task.data.test.x, CPU).numpy()
        task._judge = Judge(classifier, accuracy, FeatureStats.of(test))
    return task._judge


def requested_labels(task: Any, count: int) -> torch.Tensor | None:
    """Classes 0, 1, ..., C-1, 0, ... for a conditional model; None otherwise."""
    return torch.arange(count) % task.data.num_classes if task.cfg.task.conditional else None


def draw(task: Any, model: nn.Module, sampler: str, count: int
         ) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """(images, requested labels, seconds) of `count` seeded samples from `sampler`."""
    t, labels = task.cfg.task, requested_labels(task, count)
    condition = None if labels is None else Condition(labels, task.data.num_classes,
                                                      t.guidance_scale)
    start = time.perf_counter()
    images = generate(model, sampler, t.diffusion_steps, t.beta_schedule, t.sample_steps,
                      task.data.image_shape, count, condition, SAMPLE_SEED + task.cfg.run.seed)
    return images, labels, time.perf_counter() - start


def grid_of(task: Any, images: torch.Tensor) -> np.ndarray:
    """The first GRID_IMAGES images tiled, one class per column for a conditional model."""
    columns = task.data.num_classes if task.cfg.task.conditional else 8
    shown = GRID_IMAGES // columns * columns
    return image_grid(images[:shown], columns)


def is_due(task: Any, server_round: int) -> bool:
    """Whether `server_round` is a sampling round (every sample_every-th, and the last)."""
    every = task.cfg.task.sample_every
    return server_round == task.cfg.run.rounds or (every > 0 and server_round % every == 0)


def grid_file(server_round: int) -> str:
    """The run-directory path of a round's sample grid."""
    return f"samples/round_{server_round:03d}.png"


def sample_round(task: Any, model: nn.Module, server_round: int, run_dir: Path,
                 writer: Any = None) -> dict[str, float]:
    """On a sampling round: sample, save the grid, return frechet (+ class_accuracy) and
    sample_seconds; on other rounds: {}."""
    if not is_due(task, server_round):
        return {}
    images, labels, seconds = draw(task, model, task.cfg.task.sampler, task.cfg.task.num_samples)
    metrics = {**judge(task).score(images, labels), "sample_seconds": seconds}
    grid = grid_of(task, images)
    save_grid(Path(run_dir) / grid_file(server_round), grid)
    if writer is not None:
        writer.add_image("samples", grid, server_round, dataformats="HWC")
    task.history.append({"round": server_round, **metrics})
    return metrics


def frechet_table(task: Any, real_floor: float) -> str:
    """Markdown: the Frechet distance (and class accuracy) of every sampled round."""
    t = task.cfg.task
    steps = t.diffusion_steps if t.sampler == "ddpm" else t.sample_steps
    lines = [f"{t.num_samples} samples per round ({t.sampler}, {steps} steps, same seeded noise "
             "every round) vs the test set, on the penultimate features of a CNN classifier "
             f"trained centrally on {task.data.name} (test accuracy "
             f"{judge(task).test_accuracy:.3f}); not Inception FID. Floor: "
             f"{t.num_samples} real dev images score {real_floor:.3f}.", "",
             "| round | Frechet distance | class accuracy | sampling s |", "|---|---|---|---|"]
    for row in task.history:
        accuracy = f"{row['class_accuracy']:.3f}" if "class_accuracy" in row else "-"
        lines.append(f"| {row['round']} | {row['frechet']:.3f} | {accuracy} | "
                     f"{row['sample_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def real_floor(task: Any, count: int) -> float:
    """Frechet distance of `count` real dev images to the test set (the best a model gets)."""
    dev = task.data.dev
    idx = np.random.default_rng(SAMPLE_SEED).permutation(len(dev))[:count]
    return judge(task).score(torch.from_numpy(np.array(dev.x[np.sort(idx)])), None)["frechet"]


def compare_samplers(task: Any, model: nn.Module, run_dir: Path, count: int) -> list[Artifact]:
    """DDPM (T steps) vs DDIM (sample_steps): time per image and Frechet distance of `count`
    images each, plus both grids."""
    t = task.cfg.task
    rows = ["| sampler | steps | images | seconds | s/image | Frechet distance | class accuracy |",
            "|---|---|---|---|---|---|---|"]
    artifacts = []
    for sampler, steps in (("ddpm", t.diffusion_steps), ("ddim", t.sample_steps)):
        images, labels, seconds = draw(task, model, sampler, count)
        score = judge(task).score(images, labels)
        accuracy = f"{score['class_accuracy']:.3f}" if "class_accuracy" in score else "-"
        rows.append(f"| {sampler} | {steps} | {count} | {seconds:.1f} | {seconds / count:.3f} | "
                    f"{score['frechet']:.3f} | {accuracy} |")
        save_grid(run_dir / f"samples/{sampler}.png", grid_of(task, images))
        artifacts.append(Artifact(f"{sampler.upper()}-{steps} samples", f"samples/{sampler}.png"))
    note = f"\nFloor: {count} real dev images score {real_floor(task, count):.3f}.\n"
    (run_dir / "samplers.md").write_text("\n".join(rows) + "\n" + note, encoding="utf-8")
    return [Artifact("DDPM vs DDIM sampling (final model)", "samplers.md"), *artifacts]


def write_diffusion_outputs(task: Any, model: nn.Module, run_dir: Path) -> list[Artifact]:
    """Final grid, the Frechet-per-round table and (if asked) the sampler comparison."""
    rounds = task.cfg.run.rounds
    if not task.history or task.history[-1]["round"] != rounds:
        sample_round(task, model, rounds, run_dir)
    shutil.copyfile(run_dir / grid_file(rounds), run_dir / "samples.png")
    table = frechet_table(task, real_floor(task, task.cfg.task.num_samples))
    (run_dir / "frechet.md").write_text(table, encoding="utf-8")
    artifacts = [Artifact(f"Samples of the final model (round {rounds})", "samples.png"),
                 Artifact("Frechet distance of samples per round", "frechet.md")]
    if task.cfg.task.sampler_comparison > 0:
        artifacts += compare_samplers(task, model, run_dir, task.cfg.task.sampler_comparison)
    return artifacts
