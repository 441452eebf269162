"""Sweeps: a base config x variants x grid x seeds, each cell a normal run, resumable."""

from fedsim.sweep.runner import run_sweep
from fedsim.sweep.spec import SweepSpec, load_spec

__all__ = ["SweepSpec", "load_spec", "run_sweep"]
