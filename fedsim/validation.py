"""Checks across keys and against the registries, run before anything is written.

`prepare` returns the resolved config (e.g. fedsim's one local step filled in) after every
check that can fail on user input has passed: names, combinations, data availability,
partitioning and task construction.
"""

from __future__ import annotations

import dataclasses

import torch

from fedsim.attacks.checks import check_malicious, check_malicious_data
from fedsim.attacks.mia_checks import check_mia
from fedsim.config import Config
from fedsim.data import DATASETS, check_available, load_federated_data
from fedsim.data.sources import TextSource
from fedsim.engine.independent import check_independent
from fedsim.engine.ray_address import check_ray_address
from fedsim.engine.reliability_checks import check_reliability
from fedsim.engine.robust_strategies import check_robust_strategy
from fedsim.engine.strategies import STRATEGIES
from fedsim.errors import ConfigError, IncompatibleOptionsError
from fedsim.models import MODELS
from fedsim.models.language import LANGUAGE_MODELS
from fedsim.privacy.checks import check_privacy
from fedsim.privacy.secagg_rules import check_secagg, check_secagg_weight
from fedsim.resolve import resolve_fedsgd, resolve_tasks
from fedsim.tasks import TASKS, build_task


def _check_names(cfg: Config) -> None:
    TASKS.get(cfg.task.name)
    MODELS.get(cfg.task.model)
    DATASETS.get(cfg.data.dataset)
    STRATEGIES.get(cfg.strategy.name)


TEXT_TASKS = ("nextword",)


def _check_modalities(cfg: Config) -> None:
    """Text corpora and language models go with text tasks only, images with the others."""
    text_data = isinstance(DATASETS.get(cfg.data.dataset), TextSource)
    text_task = cfg.task.name in TEXT_TASKS
    text_sets = [n for n in DATASETS.names() if isinstance(DATASETS.get(n), TextSource)]
    image_sets = [n for n in DATASETS.names() if n not in text_sets]
    if text_data and not text_task:
        raise IncompatibleOptionsError(
            "data.dataset", f"{cfg.data.dataset!r} is a text corpus: only task.name = 'nextword' "
            f"trains on it; {cfg.task.name} takes: {', '.join(image_sets)}")
    if text_task and not text_data:
        raise IncompatibleOptionsError(
            "data.dataset", f"{cfg.task.name} needs a text corpus, got {cfg.data.dataset!r}; "
            f"allowed: {', '.join(text_sets)}")
    if (cfg.task.model in LANGUAGE_MODELS) != text_task:
        allowed = LANGUAGE_MODELS.names() if text_task else [
            n for n in MODELS.names() if n not in LANGUAGE_MODELS]
        raise IncompatibleOptionsError(
            "task.model", f"{cfg.task.model!r} does not fit task {cfg.task.name!r}; allowed: "
            f"{', '.join(allowed)}")


def _check_sampling(cfg: Config) -> None:
    n = cfg.data.num_clients
    for key in ("clients_per_round", "eval_clients_per_round"):
        if getattr(cfg.strategy, key) > n:
            raise IncompatibleOptionsError(
                f"strategy.{key}",
                f"{getattr(cfg.strategy, key)} is more than data.num_clients = {n}; "
                f"allowed: 0 (all) to {n}",
            )


def _check_device(cfg: Config) -> None:
    if cfg.run.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "run.device", "'cuda' requested but torch sees no GPU; allowed here: auto, cpu"
        )
    if cfg.run.client_gpus > 0 and not torch.cuda.is_available():
        raise ConfigError("run.client_gpus", "GPU fraction requested but torch sees no GPU; use 0")


def prepare(cfg: Config) -> Config:
    """The resolved config, or the first ConfigError/DataError it would hit."""
    cfg = resolve_tasks(cfg)
    _check_names(cfg)
    _check_modalities(cfg)
    _check_sampling(cfg)
    check_reliability(cfg)
    check_ray_address(cfg)
    check_independent(cfg)
    check_secagg(cfg)
    check_privacy(cfg)  # record-/user-level DP (fedsim.privacy.checks)
    check_malicious(cfg)
    check_mia(cfg)
    check_robust_strategy(cfg)
    _check_device(cfg)
    cfg = resolve_fedsgd(cfg)
    check_available(cfg.data.dataset)
    data = load_federated_data(cfg.data, cfg.run.seed)
    build_task(cfg, data)
    check_malicious_data(cfg, data)
    check_secagg_weight(cfg, [len(p) for p in data.partitions])
    return cfg


def prepare_for_flower(cfg: Config) -> Config:
    """`prepare`, for a run that Flower's own runtime executes (`flwr run`, the deployment
    script): recorded as run.backend = "flower", checked as such."""
    run = dataclasses.replace(cfg.run, backend="flower")
    return prepare(dataclasses.replace(cfg, run=run))
