"""LiRA reference (shadow) federations: the target's own config on shadow splits.

Shadow s is the target run's resolved config with `data.shadow_split = s` (a seeded half of
the population, see fedsim.data.subset), `run.seed = target seed + s` (its own
initialisation and partition), no attack of its own, and the inline backend: fedsim's
backends give the same weights for the same config (tests/test_determinism.py), and a
shadow may be trained from inside a running server. Each shadow is an ordinary run
directory under RUN_DIR/attacks/mia/shadows/; a finished one with the same config is reused.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fedsim.config import Config, config_from_toml
from fedsim.data import FederatedData, load_federated_data
from fedsim.engine.ensemble_model import global_model
from fedsim.tasks import Task, build_task
from fedsim.tracking.weights import load_state


def shadow_config(target: Config, split: int, runs_dir: Path) -> Config:
    """The config of shadow federation `split` (>= 1) of a target run."""
    return dataclasses.replace(
        target,
        run=dataclasses.replace(target.run, seed=target.run.seed + split, backend="inline",
                                name=f"shadow-{split}", runs_dir=str(runs_dir)),
        data=dataclasses.replace(target.data, shadow_split=split),
        attack=dataclasses.replace(target.attack, mia=False),
    )


def _finished(runs_dir: Path, cfg: Config) -> Path | None:
    """A finished shadow run directory trained with exactly `cfg`, if one exists."""
    for path in sorted(runs_dir.glob(f"{cfg.run.name}-*")):
        done = (path / "summary.json").exists() and (path / "weights.safetensors").exists()
        if done and config_from_toml((path / "config.toml").read_text()) == cfg:
            return path
    return None


def train_shadow(cfg: Config) -> Path:
    """The run directory of the shadow federation `cfg`, trained now unless already there."""
    from fedsim.engine.run import run
    from fedsim.validation import prepare

    cfg = prepare(cfg)
    done = _finished(Path(cfg.run.runs_dir), cfg)
    if done is not None:
        return done
    before = os.environ.get("FEDSIM_NO_PROGRESS")
    os.environ["FEDSIM_NO_PROGRESS"] = "1"
    try:
        return run(cfg)[0]
    finally:
        if before is None:
            os.environ.pop("FEDSIM_NO_PROGRESS", None)
        else:
            os.environ["FEDSIM_NO_PROGRESS"] = before


def load_run_model(run_dir: Path) -> tuple[Config, FederatedData, Task, nn.Module]:
    """A finished run's config, data, task and final model (on CPU, eval mode)."""
    cfg = config_from_toml((run_dir / "config.toml").read_text(encoding="utf-8"))
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    torch.manual_seed(cfg.run.seed)
    state = load_state(run_dir / "weights.safetensors")
    model = global_model(task.build_model(), state, cfg.task.name)
    return cfg, data, task, model.eval()


def included(data: FederatedData, train_index: np.ndarray) -> np.ndarray:
    """Which of the examples at `train_index` (NOT_IN_TRAIN < 0 allowed) a run trained on."""
    trained = np.zeros(len(data.train), dtype=bool)
    trained[np.concatenate(data.partitions)] = True
    return np.where(train_index >= 0, trained[np.maximum(train_index, 0)], False)
