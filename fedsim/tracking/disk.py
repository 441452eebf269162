"""Before a run writes anything: the runs folder must be creatable, writable and have room."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fedsim.errors import ConfigError

MB = 2**20


def _why(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def check_runs_dir(runs_dir: str | Path, min_free_mb: int) -> Path:
    """`runs_dir`, created if needed, after proving a file can be written there and that the
    disk has at least `min_free_mb` MB free; else a ConfigError naming run.runs_dir."""
    parent = Path(runs_dir)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise ConfigError("run.runs_dir", f"cannot create {parent}: {_why(err)}") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=".fedsim-write-probe-", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:  # read-only file system, no permission, ...
        raise ConfigError("run.runs_dir", f"{parent} is not writable: {_why(err)}") from None
    free = shutil.disk_usage(parent).free
    if free < min_free_mb * MB:
        raise ConfigError(
            "run.runs_dir",
            f"only {free / MB:.0f} MB free on the disk of {parent}; a run needs at least "
            f"run.min_free_mb = {min_free_mb} MB (free some space or choose another runs_dir)",
        )
    return parent
