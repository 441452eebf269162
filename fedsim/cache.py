"""Where fedsim keeps derived files that are slow to make and cheap to redo (rendered images,
frozen-encoder embeddings): ``$FEDSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/fedsim``, else
``~/.cache/fedsim``. Deleting the folder is always safe.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """The fedsim cache folder (created on first use)."""
    explicit = os.environ.get("FEDSIM_CACHE_DIR")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fedsim"
    path = Path(explicit) if explicit else base
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_npz_cache(path: Path, *keys: str) -> tuple[np.ndarray, ...] | None:
    """The arrays `keys` of the cache file `path`, or None when it is absent or unreadable.

    A truncated or corrupt cache file (a crash mid-write by an older version, a full disk) is
    deleted, so that the caller simply makes it again.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:  # allow_pickle stays False: arrays only
            return tuple(np.asarray(stored[key]) for key in keys)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink(missing_ok=True)
        return None


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write `arrays` to `path` so that a concurrent reader sees the whole file or none."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
