"""Helpers shared by the engine tests: run a config in-process, read final weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors.torch import load_file

from fedsim.config import Config, load_config
from fedsim.engine.run import run


def small_config(runs_dir: Path, *overrides: str) -> Config:
    """The quickstart with `overrides`, writing under `runs_dir`."""
    from tests.conftest import SMALL

    return load_config(None, [*SMALL, f'run.runs_dir="{runs_dir}"', *overrides])


def run_config(cfg: Config) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]]:
    """Run `cfg`; return its run directory, summary and final weights."""
    run_dir, summary = run(cfg)
    return run_dir, summary, load_file(str(run_dir / "weights.safetensors"))


def load_script(path: Path, name: str) -> ModuleType:
    """The Python file at `path` (a script outside the package) imported as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
