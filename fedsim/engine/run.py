"""engine.run: validate, create the run directory, run on the chosen backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedsim.config import Config, config_to_toml
from fedsim.engine.app_config import CONFIG_KEY, RUN_DIR_KEY
from fedsim.engine.backends import BACKENDS
from fedsim.errors import FedsimError
from fedsim.tracking.run_dir import create_run_dir
from fedsim.validation import prepare


def run(cfg: Config) -> tuple[Path, dict[str, Any]]:
    """Run `cfg` end to end; returns (run directory, summary). Bad input raises before any write."""
    cfg = prepare(cfg)
    run_dir = create_run_dir(cfg.run.runs_dir, cfg.run.name)
    run_config = {CONFIG_KEY: config_to_toml(cfg), RUN_DIR_KEY: str(run_dir)}
    BACKENDS.get(cfg.run.backend)(cfg, run_config)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise FedsimError(
            f"the {cfg.run.backend} backend finished without a summary; see {run_dir}"
        )
    return run_dir, json.loads(summary_path.read_text())
