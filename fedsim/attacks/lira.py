"""Likelihood-ratio attack (LiRA, Carlini et al. 2022): per-example Gaussians fitted to the
statistic of reference models that did (IN) and did not (OUT) train on the example.

`statistics` are [models, examples]; `included` says which reference model trained on which
example. With few reference models the per-example standard deviation is too noisy, so,
as in the paper's small-budget setting, one global standard deviation (the median of the
per-example ones) is used below `PER_EXAMPLE_STD_MIN` models per side.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

PER_EXAMPLE_STD_MIN = 64
_TINY = 1e-30


def _masked_mean_std(stats: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and standard deviation over the models where `mask` is set (NaN if none)."""
    count = mask.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, stats, 0.0).sum(0) / count
        var = np.where(mask, (stats - mean) ** 2, 0.0).sum(0) / count
    return mean, np.sqrt(var)


def _std(per_example: np.ndarray, models_per_side: int) -> np.ndarray:
    """Per-example std with enough models, else the median over examples (fixed variance)."""
    if models_per_side >= PER_EXAMPLE_STD_MIN:
        return per_example + _TINY
    return np.full_like(per_example, np.nanmedian(per_example) + _TINY)


def lira_offline(target: np.ndarray, statistics: np.ndarray, included: np.ndarray) -> np.ndarray:
    """Offline LiRA: how far above the OUT Gaussian the target's statistic lies (one-sided
    test; larger = member). Uses only reference models that did not train on the example."""
    out = ~np.asarray(included, dtype=bool)
    mean_out, std_out = _masked_mean_std(statistics, out)
    std_out = _std(std_out, int(out.sum(0).min()))
    return norm.logcdf(target, mean_out, std_out)


def lira_online(target: np.ndarray, statistics: np.ndarray, included: np.ndarray) -> np.ndarray:
    """Online LiRA: log-likelihood ratio of the target's statistic under the IN vs the OUT
    Gaussian (larger = member). Examples with no IN model fall back to the offline score."""
    inside = np.asarray(included, dtype=bool)
    mean_in, std_in = _masked_mean_std(statistics, inside)
    mean_out, std_out = _masked_mean_std(statistics, ~inside)
    per_side = int(min(inside.sum(0).min(), (~inside).sum(0).min()))
    std_in, std_out = _std(std_in, per_side), _std(std_out, per_side)
    ratio = norm.logpdf(target, mean_in, std_in) - norm.logpdf(target, mean_out, std_out)
    return np.where(np.isfinite(mean_in), ratio, norm.logcdf(target, mean_out, std_out))
