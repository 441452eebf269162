"""Run directories: unique, never overwritten, checked writable before training starts."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from fedsim.errors import ConfigError

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def create_run_dir(runs_dir: str | Path, name: str) -> Path:
    """A new empty directory ``<runs_dir>/<name>-<YYYYmmdd-HHMMSS>[-k]``; never reuses one."""
    parent = Path(runs_dir)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError("run.runs_dir", f"cannot create {parent}: {err.strerror}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError("run.runs_dir", f"{parent} is not writable")
    stem = f"{_SAFE.sub('_', name) or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 10_000):
        path = parent / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:  # read-only or full disk: a clear error, not a traceback
            raise ConfigError("run.runs_dir", f"cannot create {path}: {err.strerror}") from None
    raise ConfigError("run.runs_dir", f"too many runs named {stem} in {parent}")


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (temp file + rename), so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    """Write text atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
