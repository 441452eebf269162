"""manifest.json: everything needed to reproduce or question a run (seed, versions, hardware)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = (
    "fedsim",
    "torch",
    "flwr",
    "flwr-datasets",
    "ray",
    "numpy",
    "scikit-learn",
    "opacus",
    "transformers",
    "diffusers",
    "datasets",
    "safetensors",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run depends on (absent ones omitted)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> str:
    """The commit of the fedsim checkout, or "unknown" outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


CODE_PACKAGES = ("fedsim", "server", "clients")  # what a run executes: the engine and both apps


def code_digest(root: Path | None = None) -> str:
    """SHA-256 of the Python source that runs: every `*.py` under CODE_PACKAGES in `root`
    (default: the folder holding this fedsim package), in the order of their relative paths
    (POSIX, as strings), each as `len(path):path len(content):content`.

    It names the code exactly where `git_commit` cannot: under `flwr run`, Flower runs an
    installed copy of the app with no git checkout; and a dirty checkout is one digest per
    state of its files, not one "-dirty" for all of them.
    """
    root = root or Path(__file__).resolve().parents[2]
    names = sorted(
        path.relative_to(root).as_posix()
        for package in CODE_PACKAGES
        for path in (root / package).rglob("*.py")
    )
    digest = hashlib.sha256()
    for name in names:  # each framed by its length: no two file sets hash alike by accident
        content = (root / name).read_bytes()
        digest.update(f"{len(name)}:{name}{len(content)}:".encode() + content)
    return digest.hexdigest()


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def hardware() -> dict[str, Any]:
    """CPU, core count, memory and GPU of this machine."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpu": gpu,
        "platform": platform.platform(),
    }


def now() -> str:
    """Current UTC time, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


SECRET_FLAGS = ("--token",)  # Flower's ServerApp process gets its run token on the command line


def command_line(argv: list[str]) -> str:
    """`argv` joined, with the values of secret flags (`--token X`, `--token=X`) hidden."""
    shown: list[str] = []
    for arg in argv:
        if shown and shown[-1] in SECRET_FLAGS:
            arg = "***"
        elif arg.startswith(tuple(f"{flag}=" for flag in SECRET_FLAGS)):
            arg = arg.split("=", 1)[0] + "=***"
        shown.append(arg)
    return " ".join(shown)


def build_manifest(seed: int, backend: str) -> dict[str, Any]:
    """The manifest of a run that starts now."""
    return {
        "seed": seed,
        "backend": backend,
        "git_commit": git_commit(),
        "code_sha256": code_digest(),
        "command": command_line(sys.argv),
        "python": platform.python_version(),
        "packages": package_versions(),
        "hardware": hardware(),
        "torch_threads": torch.get_num_threads(),
        "started_at": now(),
        "finished_at": None,
        "status": "running",
    }
