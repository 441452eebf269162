"""How the Flower apps find their fedsim config: the run config, else the environment.

Our engine and `flwr run -c` pass the resolved TOML in the run config (``config-toml``) or
a path (``config-file``); Flower's `run_simulation` takes no run config, so the `flower`
backend passes it through FEDSIM_CONFIG_TOML / FEDSIM_RUN_DIR instead.

fedsim prepared (validated and resolved) a config it passes as TOML; a ``config-file`` (or
no config: the quickstart default) comes straight from the user. The apps resolve every
config (`fedsim.resolve`: the same model, loss and steps as `fedsim run` would train), and
the ServerApp runs `prepare`'s checks on one fedsim did not prepare (`prepared_by_fedsim`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch
from flwr.app import Context

from fedsim.config import (
    Config,
    config_from_toml,
    config_to_toml,
    default_config_text,
    parse_config,
    read_toml,
)

CONFIG_KEY = "config-toml"
FILE_KEY = "config-file"
RUN_DIR_KEY = "run-dir"
ENV_CONFIG = "FEDSIM_CONFIG_TOML"
ENV_RUN_DIR = "FEDSIM_RUN_DIR"


@lru_cache(maxsize=8)
def _parse(text: str) -> Config:
    from fedsim.resolve import resolve_config  # the task modules: not for the CLI's start-up

    return resolve_config(config_from_toml(text))


def _prepared_text(context: Context) -> str:
    return str(context.run_config.get(CONFIG_KEY, "") or os.environ.get(ENV_CONFIG, ""))


def prepared_by_fedsim(context: Context) -> bool:
    """Whether fedsim validated this run's config before passing it (TOML, not a file)."""
    return bool(_prepared_text(context))


def config_from_context(context: Context) -> Config:
    """The run's resolved Config, from the run config, the environment, or the quickstart
    default."""
    text = _prepared_text(context)
    if text:
        return _parse(text)
    path = str(context.run_config.get(FILE_KEY, ""))
    if path:
        return _parse(config_to_toml(parse_config(read_toml(Path(path)))))
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
