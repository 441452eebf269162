"""The course exercise's synthetic data: scalar x | c ~ N(mu_c, 0.1), mu = -0.5 / +0.5.

Generated with a fixed seed (the data set is the same for every run); 2,000 points,
alternating classes, stored as [N, 1, 1, 1] so image models and the engine take it as is.
"""

from __future__ import annotations

import numpy as np

from fedsim.data.sources import DatasetSource, _register
from fedsim.data.types import ArrayDataset

TOY_POINTS = 2000
POPULATION_POINTS = 400_000  # "toy-1d-400k": enough for 100k clients of a few points each
TOY_MEANS = (-0.5, 0.5)
TOY_STD = 0.1


def _load_toy(points: int = TOY_POINTS) -> tuple[ArrayDataset, None]:
    rng = np.random.default_rng(20240101)
    labels = np.arange(points, dtype=np.int64) % 2
    means = np.asarray(TOY_MEANS, dtype=np.float64)[labels]
    x = (means + TOY_STD * rng.standard_normal(points)).astype(np.float32)
    return ArrayDataset(x.reshape(-1, 1, 1, 1), labels), None


_register(DatasetSource(
    name="toy-1d", provider="fedsim itself (generated)", install="nothing to install",
    class_names=("c0 (mu=-0.5)", "c1 (mu=+0.5)"), is_available=lambda: True, load=_load_toy,
))  # fmt: skip
_register(DatasetSource(
    name="toy-1d-400k", provider="fedsim itself (generated)", install="nothing to install",
    class_names=("c0 (mu=-0.5)", "c1 (mu=+0.5)"), is_available=lambda: True,
    load=lambda: _load_toy(POPULATION_POINTS),
))  # fmt: skip
