"""How the Flower apps find their fedsim config: the run config, else the environment.

Our engine and `flwr run -c` pass the resolved TOML in the run config (``config-toml``) or
a path (``config-file``); Flower's `run_simulation` takes no run config, so the `flower`
backend passes it through FEDSIM_CONFIG_TOML / FEDSIM_RUN_DIR instead.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch
from flwr.app import Context

from fedsim.config import Config, config_from_toml, default_config_text, parse_config, read_toml

CONFIG_KEY = "config-toml"
FILE_KEY = "config-file"
RUN_DIR_KEY = "run-dir"
ENV_CONFIG = "FEDSIM_CONFIG_TOML"
ENV_RUN_DIR = "FEDSIM_RUN_DIR"


@lru_cache(maxsize=8)
def _parse(text: str) -> Config:
    return config_from_toml(text)


def config_from_context(context: Context) -> Config:
    """The run's Config, from the run config, the environment, or the quickstart default."""
    text = str(context.run_config.get(CONFIG_KEY, "") or os.environ.get(ENV_CONFIG, ""))
    if text:
        return _parse(text)
    path = str(context.run_config.get(FILE_KEY, ""))
    if path:
        return parse_config(read_toml(Path(path)))
    return _parse(default_config_text())


def run_dir_from_context(context: Context) -> Path | None:
    """The run directory the engine created, if any."""
    value = str(context.run_config.get(RUN_DIR_KEY, "") or os.environ.get(ENV_RUN_DIR, ""))
    return Path(value) if value else None


def resolve_device(name: str) -> torch.device:
    """``run.device`` as a torch device ("auto" = CUDA when available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
