"""engine.run: validate, create the run directory, run on the chosen backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedsim.config import Config, config_to_toml
from fedsim.engine.app_config import CONFIG_KEY, RUN_DIR_KEY
from fedsim.engine.backends import BACKENDS, connect
from fedsim.errors import FedsimError
from fedsim.tracking.disk import check_runs_dir
from fedsim.tracking.run_dir import create_run_dir
from fedsim.validation import prepare


def run(cfg: Config) -> tuple[Path, dict[str, Any]]:
    """Run `cfg` end to end; returns (run directory, summary). Bad input raises before any write."""
    cfg = prepare(cfg)
    check_runs_dir(cfg.run.runs_dir, cfg.run.min_free_mb)  # before anything is written
    connect(cfg)  # a Ray cluster (run.ray_address) that cannot be joined: before it, too
    run_dir = create_run_dir(cfg.run.runs_dir, cfg.run.name)
    run_config = {CONFIG_KEY: config_to_toml(cfg), RUN_DIR_KEY: str(run_dir)}
    BACKENDS.get(cfg.run.backend)(cfg, run_config)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise FedsimError(
            f"the {cfg.run.backend} backend finished without a summary; see {run_dir}"
        )
    return run_dir, json.loads(summary_path.read_text())


def resume(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Finish the run in `run_dir` from its last checkpoint, in the same directory (the one
    case where a run directory is written again); returns (run directory, summary)."""
    from fedsim.config import parse_config, read_toml
    from fedsim.tracking.checkpoint import read_checkpoint

    if not run_dir.is_dir():
        raise FedsimError(f"{run_dir}: not a run directory")
    if (run_dir / "summary.json").exists():
        raise FedsimError(f"{run_dir}: the run already finished (summary.json exists)")
    cfg = prepare(parse_config(read_toml(run_dir / "config.toml")))
    read_checkpoint(run_dir)  # a missing or corrupt checkpoint fails here, before any write
    check_runs_dir(run_dir, cfg.run.min_free_mb)
    connect(cfg)
    run_config = {CONFIG_KEY: config_to_toml(cfg), RUN_DIR_KEY: str(run_dir)}
    BACKENDS.get(cfg.run.backend)(cfg, run_config)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise FedsimError(f"the resumed run finished without a summary; see {run_dir}")
    return run_dir, json.loads(summary_path.read_text())
